// Go's slices.SortFunc (pattern-defeating quicksort, Go 1.21+), ported step for step so that an unstable sort
// leaves equal elements where WAL-G's binary leaves them (e.g. the rows of one backup held by two storages in
// `backup-list --detail`). Up to 12 elements it is an insertion sort, i.e. stable; beyond, equal elements move in
// Go's deterministic way. Port of the Go standard library (src/slices/zsortanyfunc.go, BSD licence,
// Copyright 2022 The Go Authors); no WAL-G code.

type Cmp<T> = (a: T, b: T) => number;

const swap = <T>(d: T[], i: number, j: number): void => { const t = d[i]!; d[i] = d[j]!; d[j] = t; };
const lt = <T>(d: T[], cmp: Cmp<T>, i: number, j: number): boolean => cmp(d[i]!, d[j]!) < 0;
/** Go's bits.Len(uint(n)). */
const bitLen = (n: number): number => (n === 0 ? 0 : 32 - Math.clz32(n));

function insertionSort<T>(d: T[], a: number, b: number, cmp: Cmp<T>): void {
  for (let i = a + 1; i < b; i++) for (let j = i; j > a && lt(d, cmp, j, j - 1); j--) swap(d, j, j - 1);
}

function siftDown<T>(d: T[], lo: number, hi: number, first: number, cmp: Cmp<T>): void {
  let root = lo;
  for (;;) {
    let child = 2 * root + 1;
    if (child >= hi) return;
    if (child + 1 < hi && lt(d, cmp, first + child, first + child + 1)) child++;
    if (!lt(d, cmp, first + root, first + child)) return;
    swap(d, first + root, first + child);
    root = child;
  }
}

function heapSort<T>(d: T[], a: number, b: number, cmp: Cmp<T>): void {
  const hi = b - a;
  for (let i = Math.trunc((hi - 1) / 2); i >= 0; i--) siftDown(d, i, hi, a, cmp);
  for (let i = hi - 1; i >= 0; i--) {
    swap(d, a, a + i);
    siftDown(d, 0, i, a, cmp);
  }
}

function partition<T>(d: T[], a: number, b: number, pivot: number, cmp: Cmp<T>): [number, boolean] {
  swap(d, a, pivot);
  let i = a + 1;
  let j = b - 1;
  while (i <= j && lt(d, cmp, i, a)) i++;
  while (i <= j && !lt(d, cmp, j, a)) j--;
  if (i > j) {
    swap(d, j, a);
    return [j, true];
  }
  swap(d, i, j);
  i++; j--;
  for (;;) {
    while (i <= j && lt(d, cmp, i, a)) i++;
    while (i <= j && !lt(d, cmp, j, a)) j--;
    if (i > j) break;
    swap(d, i, j);
    i++; j--;
  }
  swap(d, j, a);
  return [j, false];
}

function partitionEqual<T>(d: T[], a: number, b: number, pivot: number, cmp: Cmp<T>): number {
  swap(d, a, pivot);
  let i = a + 1;
  let j = b - 1;
  for (;;) {
    while (i <= j && !lt(d, cmp, a, i)) i++;
    while (i <= j && lt(d, cmp, a, j)) j--;
    if (i > j) break;
    swap(d, i, j);
    i++; j--;
  }
  return i;
}

function partialInsertionSort<T>(d: T[], a: number, b: number, cmp: Cmp<T>): boolean {
  const maxSteps = 5;
  const shortestShifting = 50;
  let i = a + 1;
  for (let step = 0; step < maxSteps; step++) {
    while (i < b && !lt(d, cmp, i, i - 1)) i++;
    if (i === b) return true;
    if (b - a < shortestShifting) return false;
    swap(d, i, i - 1);
    // compat: Go's loop bound is 1, not a+1.
    if (i - a >= 2) for (let j = i - 1; j >= 1 && lt(d, cmp, j, j - 1); j--) swap(d, j, j - 1);
    if (b - i >= 2) for (let j = i + 1; j < b && lt(d, cmp, j, j - 1); j++) swap(d, j, j - 1);
  }
  return false;
}

const MASK64 = (1n << 64n) - 1n;

function breakPatterns<T>(d: T[], a: number, b: number): void {
  const length = b - a;
  if (length < 8) return;
  let random = BigInt(length);
  const modulus = 1n << BigInt(bitLen(length));
  const half = Math.trunc(length / 4) * 2;
  for (let idx = a + half - 1; idx <= a + half + 1; idx++) {
    random ^= (random << 13n) & MASK64;
    random ^= random >> 7n;
    random ^= (random << 17n) & MASK64;
    let other = Number(random & (modulus - 1n));
    if (other >= length) other -= length;
    swap(d, idx, a + other);
  }
}

type Hint = 'unknown' | 'increasing' | 'decreasing';

function choosePivot<T>(d: T[], a: number, b: number, cmp: Cmp<T>): [number, Hint] {
  const l = b - a;
  const swaps = { n: 0 };
  const q = Math.trunc(l / 4);
  let i = a + q;
  let j = a + q * 2;
  let k = a + q * 3;
  const order2 = (x: number, y: number): [number, number] => {
    if (lt(d, cmp, y, x)) { swaps.n++; return [y, x]; }
    return [x, y];
  };
  const median = (x: number, y: number, z: number): number => {
    [x, y] = order2(x, y);
    [y, z] = order2(y, z);
    [x, y] = order2(x, y);
    return y;
  };
  if (l >= 8) {
    if (l >= 50) {
      i = median(i - 1, i, i + 1);
      j = median(j - 1, j, j + 1);
      k = median(k - 1, k, k + 1);
    }
    j = median(i, j, k);
  }
  if (swaps.n === 0) return [j, 'increasing'];
  if (swaps.n === 12) return [j, 'decreasing'];
  return [j, 'unknown'];
}

function reverseRange<T>(d: T[], a: number, b: number): void {
  for (let i = a, j = b - 1; i < j; i++, j--) swap(d, i, j);
}

function pdqsort<T>(d: T[], a: number, b: number, limit: number, cmp: Cmp<T>): void {
  let wasBalanced = true;
  let wasPartitioned = true;
  for (;;) {
    const length = b - a;
    if (length <= 12) {
      insertionSort(d, a, b, cmp);
      return;
    }
    if (limit === 0) {
      heapSort(d, a, b, cmp);
      return;
    }
    if (!wasBalanced) {
      breakPatterns(d, a, b);
      limit--;
    }
    let [pivot, hint] = choosePivot(d, a, b, cmp);
    if (hint === 'decreasing') {
      reverseRange(d, a, b);
      pivot = (b - 1) - (pivot - a);
      hint = 'increasing';
    }
    if (wasBalanced && wasPartitioned && hint === 'increasing' && partialInsertionSort(d, a, b, cmp)) return;
    if (a > 0 && !lt(d, cmp, a - 1, pivot)) {
      a = partitionEqual(d, a, b, pivot, cmp);
      continue;
    }
    const [mid, alreadyPartitioned] = partition(d, a, b, pivot, cmp);
    wasPartitioned = alreadyPartitioned;
    const leftLen = mid - a;
    const rightLen = b - mid;
    const balanceThreshold = Math.trunc(length / 8);
    if (leftLen < rightLen) {
      wasBalanced = leftLen >= balanceThreshold;
      pdqsort(d, a, mid, limit, cmp);
      a = mid + 1;
    } else {
      wasBalanced = rightLen >= balanceThreshold;
      pdqsort(d, mid + 1, b, limit, cmp);
      b = mid;
    }
  }
}

/** Sorts `data` in place exactly as Go's slices.SortFunc(data, cmp) would (not stable beyond 12 elements). */
export function goSortFunc<T>(data: T[], cmp: Cmp<T>): T[] {
  pdqsort(data, 0, data.length, bitLen(data.length), cmp);
  return data;
}

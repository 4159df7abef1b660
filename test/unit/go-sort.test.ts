// goSortFunc (src/core/go-sort.ts) against Go 1.26's slices.SortFunc: element order after sorting (key, index) pairs by
// key only, so every tie shows where Go leaves equal elements. Expected index orders were printed by a Go program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goSortFunc } from '../../src/core/go-sort.ts';

const CASES: Array<[string, string]> = [
  ['2 1 1 0 0 0 1 1 0 2 2 2 2', '4 8 5 3 6 2 7 1 0 9 10 11 12'],
  ['5 5 5 5 5 40 5 5 5 5 5 32 5', '6 1 2 3 4 0 7 8 9 10 12 11 5'],
  ['2 2 2 0 2 0 1 1 0 1 1 1 1 1 1 0 2 1 1 1 1 2 0 2 2 1 1 1 2 0 2 0 1 0 1 2 2 0 2 0 2 1 2 2 1 0 1 0 2 2 1',
    '45 15 47 3 31 5 29 37 8 39 22 33 17 41 14 12 50 18 11 19 20 44 10 13 9 25 26 27 7 6 34 46 32 23 30 35 36 28 38 24 40 0 42 43 21 16 4 2 48 49 1'],
  ['5 5 5 48 5 0 5 5 5 5 5 5 5 5 5 36 64 76 5 5 5 5 5 5 5 44 5 72 48 5 5 5 5 12 5 80 5 5 5 12 48 5 5 0 5 5 5 5 5 5 5',
    '5 43 24 21 4 2 6 7 8 9 10 11 12 13 14 50 49 48 18 19 20 41 22 23 0 47 46 1 26 29 30 31 32 45 34 44 36 37 38 42 39 33 15 25 40 28 3 16 27 17 35'],
  ['1 1 2 0 2 1 0 2 0 2 1 1 2 1 1 2 2 2 1 1 2 2 1 2 1 1 0 0 2 0 0 0 2 0 2 0 0 1 0 0 2 0 1 1 1 0 2 2 2 2 0 2 2 1 1 0 0 2 1 0 1 0 1 1 2 2 0 0 1 1 1 0 0 2 2 1 0 0 2 0 2 1 0 0 1 1 1 2 2 1 2 2 0 0 1 0 0 1 1 1',
    '33 96 95 3 93 92 6 83 8 82 79 77 76 72 71 67 66 61 59 56 55 50 45 41 39 38 26 27 36 29 30 31 35 75 85 99 98 37 25 24 97 1 42 43 44 22 94 5 89 86 68 84 81 53 54 10 19 11 58 18 60 0 62 63 13 14 70 69 16 15 34 65 64 73 74 17 12 57 78 20 80 52 9 7 51 21 49 87 88 48 90 91 47 4 46 2 23 40 28 32'],
  ['5 5 5 5 5 80 5 5 5 5 5 5 5 5 5 5 5 5 56 5 5 5 5 48 5 12 5 5 5 5 5 5 5 5 0 5 5 5 8 92 5 5 5 5 5 20 5 5 40 5 5 5 5 5 5 5 5 72 5 5 5 0 5 5 5 8 5 5 5 0 5 4 5 5 5 5 5 5 5 5 80 5 5 5 76 5 5 5 80 5 5 5 5 5 5 5 5 5 44 5',
    '34 69 61 71 50 53 6 7 8 9 10 11 52 13 14 15 16 17 99 19 20 21 22 97 24 96 26 27 28 29 30 31 32 33 4 35 0 37 95 94 40 41 42 43 44 93 46 47 92 49 36 91 12 51 54 55 56 90 58 59 60 3 62 63 64 89 66 67 68 2 70 1 72 73 74 75 76 77 78 79 87 81 82 83 86 85 38 65 25 45 48 98 23 18 57 84 80 88 5 39'],
];

test('goSortFunc leaves equal elements where Go\'s slices.SortFunc does (insertion sort up to 12, pdqsort beyond)', () => {
  for (const [input, expected] of CASES) {
    const data = input.split(' ').map((k, id) => ({ k: Number(k), id }));
    goSortFunc(data, (a, b) => a.k - b.k);
    assert.equal(data.map((x) => x.id).join(' '), expected);
  }
  const big = Array.from({ length: 5000 }, (_, i) => ({ k: (i * 7919) % 101, id: i }));
  goSortFunc(big, (a, b) => a.k - b.k);
  for (let i = 1; i < big.length; i++) assert.ok(big[i - 1]!.k <= big[i]!.k);
});

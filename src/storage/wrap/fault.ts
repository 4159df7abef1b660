// Test-only Storage wrapper that injects failures into chosen calls, e.g. "the 2nd put dies after 1 MB of its
// body was read" or "the first 3 gets fail with a transient error". Used to prove that retries work and that
// a failed upload never leaves a half-written object behind.

import { Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import { StorageError } from '../../core/errors.ts';
import { openBody } from '../body.ts';
import type { Body, GetOptions, ListEntry, ListOptions, ObjectInfo, PutOptions, Storage } from '../types.ts';

export type FaultOp = 'put' | 'get' | 'stat' | 'exists' | 'list' | 'delete';

/** One injected failure pattern. Rules are checked in order; the first matching rule with failures left fires. */
export interface FaultRule {
  op: FaultOp;
  /** Only calls whose key (for list: prefix; for delete: any key) matches. Default: every call. */
  key?: string | RegExp;
  /** The first matching call that fails, 1-based (default 1). Earlier matching calls pass through. */
  nth?: number;
  /** How many matching calls fail from the nth on (default 1; Infinity = all of them). */
  times?: number;
  /**
   * put: fail after this many body bytes went to the inner storage (the inner put then sees its body error
   * mid-stream, as with a crashing compressor or a dropped connection). get: the returned stream errors after
   * this many bytes. list: fail after this many entries. Omitted: the call fails before doing anything.
   */
  afterBytes?: number;
  /** The error to raise. Default: a transient StorageError "injected fault". */
  error?: () => Error;
}

/** A Storage with fault injection, plus counters for assertions. */
export interface FaultyStorage extends Storage {
  /** Calls seen per operation (including failed ones). */
  readonly calls: Record<FaultOp, number>;
  /** Faults injected so far. */
  readonly injected: number;
  /** Adds rules at run time (e.g. after setting up fixtures through the same wrapper). */
  addRule(rule: FaultRule): void;
}

interface LiveRule { rule: FaultRule; seen: number; fired: number }

function keyMatches(rule: FaultRule, key: string): boolean {
  if (rule.key === undefined) return true;
  return typeof rule.key === 'string' ? key === rule.key : rule.key.test(key);
}

/** A pass-through that errors once `limit` bytes have gone through (bytes up to the limit are delivered). */
function failAfter(limit: number, makeError: () => Error, onFire: () => void): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (seen + chunk.length < limit) { seen += chunk.length; cb(null, chunk); return; }
      const head = chunk.subarray(0, Math.max(0, limit - seen));
      seen = limit;
      if (head.length > 0) this.push(head);
      onFire();
      cb(makeError());
    },
    flush(cb) {
      // A body shorter than the limit still fails at its end, so the rule always fires once matched.
      onFire();
      cb(makeError());
    },
  });
}

class FaultStorage implements FaultyStorage {
  readonly name: string;
  readonly type: string;
  readonly calls: Record<FaultOp, number> = { put: 0, get: 0, stat: 0, exists: 0, list: 0, delete: 0 };
  private count = 0;
  private readonly inner: Storage;
  private readonly rules: LiveRule[];

  constructor(inner: Storage, plan: FaultRule[]) {
    this.inner = inner;
    this.name = inner.name;
    this.type = inner.type;
    this.rules = plan.map((rule) => ({ rule, seen: 0, fired: 0 }));
  }

  get injected(): number { return this.count; }

  addRule(rule: FaultRule): void { this.rules.push({ rule, seen: 0, fired: 0 }); }

  /** Counts the call and returns the rule that makes it fail, if any. */
  private match(op: FaultOp, keys: readonly string[]): FaultRule | undefined {
    this.calls[op]++;
    for (const r of this.rules) {
      if (r.rule.op !== op || !keys.some((k) => keyMatches(r.rule, k))) continue;
      r.seen++;
      const nth = r.rule.nth ?? 1;
      const times = r.rule.times ?? 1;
      if (r.seen >= nth && r.fired < times) { r.fired++; return r.rule; }
    }
    return undefined;
  }

  private error(rule: FaultRule): Error {
    return rule.error ? rule.error() : new StorageError('injected fault', { transient: true });
  }

  private fire(rule: FaultRule): Error {
    this.count++;
    return this.error(rule);
  }

  async put(key: string, body: Body, opts?: PutOptions): Promise<void> {
    const rule = this.match('put', [key]);
    if (!rule) return this.inner.put(key, body, opts);
    if (rule.afterBytes === undefined) throw this.fire(rule);
    let fired = false;
    const onFire = () => { if (!fired) { fired = true; this.count++; } };
    // Keep the body's nature: the wrapped body is single-shot like the original stream.
    const src = openBody(body);
    const cut = failAfter(rule.afterBytes, () => this.error(rule), onFire);
    // A short body fails in flush, possibly before the inner driver attaches listeners (see through()).
    cut.on('error', () => {});
    src.on('error', (e) => cut.destroy(e));
    await this.inner.put(key, src.pipe(cut), opts);
    // The inner storage may swallow a body error in theory; the contract says put must then fail.
    if (fired) throw this.error(rule);
  }

  async get(key: string, opts?: GetOptions): Promise<Readable> {
    const rule = this.match('get', [key]);
    if (rule && rule.afterBytes === undefined) throw this.fire(rule);
    const s = await this.inner.get(key, opts);
    if (!rule) return s;
    const cut = failAfter(rule.afterBytes!, () => this.error(rule), () => this.count++);
    s.on('error', (e) => cut.destroy(e));
    return s.pipe(cut);
  }

  async stat(key: string, opts?: { signal?: AbortSignal }): Promise<ObjectInfo> {
    const rule = this.match('stat', [key]);
    if (rule) throw this.fire(rule);
    return this.inner.stat(key, opts);
  }

  async exists(key: string, opts?: { signal?: AbortSignal }): Promise<boolean> {
    const rule = this.match('exists', [key]);
    if (rule) throw this.fire(rule);
    return this.inner.exists(key, opts);
  }

  async *list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry> {
    const rule = this.match('list', [prefix]);
    if (rule && rule.afterBytes === undefined) throw this.fire(rule);
    let n = 0;
    for await (const e of this.inner.list(prefix, opts)) {
      if (rule && n >= rule.afterBytes!) throw this.fire(rule);
      n++;
      yield e;
    }
    if (rule) throw this.fire(rule);
  }

  async delete(keys: readonly string[], opts?: { signal?: AbortSignal }): Promise<void> {
    const rule = this.match('delete', keys);
    if (rule) throw this.fire(rule);
    return this.inner.delete(keys, opts);
  }

  close(): Promise<void> { return this.inner.close(); }
}

/**
 * Wraps a storage so the calls matched by `plan` fail (test helper). Unmatched calls pass through unchanged.
 * A put rule with afterBytes lets the inner put read that many body bytes and then breaks the body stream.
 */
export function withFaults(storage: Storage, plan: FaultRule[] = []): FaultyStorage {
  return new FaultStorage(storage, plan);
}

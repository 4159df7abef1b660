// In-memory storage driver: for unit tests and as the reference behaviour of the Storage contract.

import { Readable } from 'node:stream';
import { ObjectNotFoundError, CancelledError } from '../../core/errors.ts';
import { openBody } from '../body.ts';
import { folderPrefix } from '../types.ts';
import type { Body, GetOptions, ListEntry, ListOptions, ObjectInfo, PutOptions, Storage } from '../types.ts';

interface Entry { data: Buffer; lastModified: Date }

/** A Storage kept in a Map. put() buffers the whole body and stores it only when the body ends without error. */
export class MemoryStorage implements Storage {
  readonly type = 'memory';
  readonly name: string;
  private readonly objects = new Map<string, Entry>();
  private clock = 0;

  constructor(name = 'default') { this.name = name; }

  async put(key: string, body: Body, opts?: PutOptions): Promise<void> {
    const chunks: Buffer[] = [];
    const stream = openBody(body);
    for await (const c of stream) {
      if (opts?.signal?.aborted) { stream.destroy(); throw new CancelledError('upload cancelled'); }
      chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
    }
    this.objects.set(key, { data: Buffer.concat(chunks), lastModified: this.tick() });
  }

  // Strictly increasing timestamps, so LATEST (max LastModified) is deterministic in tests.
  private tick(): Date {
    const now = Date.now();
    this.clock = Math.max(this.clock + 1, now);
    return new Date(this.clock);
  }

  async get(key: string, opts?: GetOptions): Promise<Readable> {
    const e = this.objects.get(key);
    if (!e) throw new ObjectNotFoundError(key);
    const start = opts?.range?.start ?? 0;
    const end = opts?.range?.end ?? e.data.length;
    return Readable.from([e.data.subarray(start, end)]);
  }

  async stat(key: string): Promise<ObjectInfo> {
    const e = this.objects.get(key);
    if (!e) throw new ObjectNotFoundError(key);
    return { key, size: e.data.length, lastModified: e.lastModified };
  }

  async exists(key: string): Promise<boolean> { return this.objects.has(key); }

  async *list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry> {
    const p = folderPrefix(prefix);
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(p)).sort();
    const dirs = new Set<string>();
    const out: ListEntry[] = [];
    for (const k of keys) {
      const rest = k.slice(p.length);
      const slash = rest.indexOf('/');
      const e = this.objects.get(k)!;
      if (!opts?.recursive && slash >= 0) {
        const d = p + rest.slice(0, slash + 1);
        if (!dirs.has(d)) { dirs.add(d); out.push({ type: 'dir', key: d, size: 0, lastModified: new Date(0) }); }
      } else {
        out.push({ type: 'obj', key: k, size: e.data.length, lastModified: e.lastModified });
      }
    }
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* out;
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const k of keys) this.objects.delete(k);
  }

  async close(): Promise<void> {}

  /** Test helper: replaces an object's bytes in place (to simulate corruption). */
  corrupt(key: string, mutate: (b: Buffer) => Buffer): void {
    const e = this.objects.get(key);
    if (!e) throw new ObjectNotFoundError(key);
    e.data = mutate(Buffer.from(e.data));
  }
}

// The failover status cache: alive/dead per storage, kept in memory (shared by the process) and in
// ~/.walg_storage_{ro,rw}_status_cache (shared by processes), trusted for WALG_FAILOVER_STORAGES_CACHE_LIFETIME.
// compat (WAL-G's internal/multistorage/cache): between explicit checks a status moves with an exponential moving
// average of operation results, weighted as WAL-G's stats collector weighs them.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';

/** One storage's status, as stored in the cache file (compat: WAL-G's JSON field names). */
interface Status {
  potential_aliveness: number;
  actual_aliveness: number;
  previous_aliveness: boolean;
  updated: string;
}

// compat: WAL-G's default EMA parameters (a dead storage needs ~20 good operations to come back, an alive one
// ~10 failures to die).
const EMA = { aliveLimit: 0.99, deadLimit: 0.88, alphaAlive: { min: 0.01, max: 0.05 }, alphaDead: { min: 0.1, max: 0.5 } };

function factor(s: Status): number {
  if (s.potential_aliveness === 0 && s.actual_aliveness === 0) return EMA.deadLimit;
  return s.actual_aliveness / s.potential_aliveness;
}

function isAlive(s: Status): boolean {
  return s.previous_aliveness ? factor(s) >= EMA.deadLimit : factor(s) >= EMA.aliveLimit;
}

function applyOperation(s: Status | undefined, ok: boolean, weight: number, now: Date): Status {
  const cur = s ?? { potential_aliveness: 0, actual_aliveness: 0, previous_aliveness: false, updated: new Date(0).toISOString() };
  const alive = isAlive(cur);
  const alpha = alive
    ? EMA.alphaAlive.max + (EMA.alphaAlive.min - EMA.alphaAlive.max) * ((factor(cur) - EMA.deadLimit) / (1 - EMA.deadLimit))
    : EMA.alphaDead.max + (EMA.alphaDead.min - EMA.alphaDead.max) * (factor(cur) / EMA.aliveLimit);
  const ema = (prev: number, v: number) => v * alpha + prev * (1 - alpha);
  return {
    potential_aliveness: ema(cur.potential_aliveness, weight),
    actual_aliveness: ema(cur.actual_aliveness, ok ? weight : 0),
    previous_aliveness: alive,
    updated: now.toISOString(),
  };
}

/** compat: operation weights of WAL-G's stats collector. */
export const WEIGHT = {
  exists: 1000,
  list: 2000,
  bytes: (n: number) => scale(1000, Math.floor(n / (1 << 20))),
  delete: (files: number) => scale(500, files),
};

function scale(w: number, s: number): number {
  return s <= 1 ? w : w * (1 + Math.log10(s));
}

// One in-memory map per check kind, shared by every storage set in this process (as WAL-G's DefaultRO/RWMem).
const MEMORY: Record<'ro' | 'rw', Map<string, Status>> = { ro: new Map(), rw: new Map() };

/** The status cache of one check kind: memory first, then the shared file; entries older than the lifetime are outdated. */
export class StatusCache {
  private readonly mem: Map<string, Status>;
  private readonly file: string;
  private readonly ttlMs: number;
  private dirty = false;

  constructor(kind: 'ro' | 'rw', ttlMs: number, dir?: string) {
    this.mem = MEMORY[kind];
    let base = dir;
    if (!base) { try { base = homedir(); } catch { base = tmpdir(); } }
    this.file = join(base || tmpdir(), `.walg_storage_${kind}_status_cache`);
    this.ttlMs = ttlMs;
  }

  private relevant(s: Status | undefined, now: number): boolean {
    return s !== undefined && now - Date.parse(s.updated) <= this.ttlMs;
  }

  private readFile(): Record<string, Status> {
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, Status>;
      return parsed && typeof parsed === 'object' ? parsed : {};
    } catch {
      return {};
    }
  }

  /** Alive/dead per key, split into relevant (younger than the lifetime) and outdated (or unknown) entries. */
  read(keys: readonly string[]): { relevant: Map<string, boolean>; outdated: string[] } {
    const now = Date.now();
    if (!keys.every((k) => this.relevant(this.mem.get(k), now))) {
      // Merge the file in: the newer status of each key wins.
      for (const [k, s] of Object.entries(this.readFile())) {
        const m = this.mem.get(k);
        if (!m || Date.parse(s.updated) > Date.parse(m.updated)) this.mem.set(k, s);
      }
    }
    const relevant = new Map<string, boolean>();
    const outdated: string[] = [];
    for (const k of keys) {
      const s = this.mem.get(k);
      if (this.relevant(s, now)) relevant.set(k, isAlive(s!));
      else outdated.push(k);
    }
    return { relevant, outdated };
  }

  /** Records explicit check results: alive resets the EMA to fully alive, dead to fully dead. */
  applyCheck(results: Map<string, boolean>): void {
    const now = new Date().toISOString();
    for (const [k, alive] of results) {
      const s = this.mem.get(k);
      const potential = s?.potential_aliveness ?? 0;
      this.mem.set(k, { potential_aliveness: potential, actual_aliveness: alive ? potential : 0, previous_aliveness: alive, updated: now });
    }
    this.dirty = true;
  }

  /** Records the outcome of one storage operation. */
  applyOperation(key: string, ok: boolean, weight: number): void {
    this.mem.set(key, applyOperation(this.mem.get(key), ok, weight, new Date()));
    this.dirty = true;
  }

  /** Writes the merged statuses to the shared file (atomically; unknown keys of other configs are kept). */
  async flush(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const merged = this.readFile();
    for (const [k, s] of this.mem) if (!merged[k] || Date.parse(s.updated) >= Date.parse(merged[k].updated)) merged[k] = s;
    const tmp = `${this.file}.tmp.${randomBytes(6).toString('hex')}`;
    try {
      await writeFile(tmp, JSON.stringify(merged), { mode: 0o666 });
      await rename(tmp, this.file);
    } catch (err) {
      log.warn(`Failed to flush storage status cache file ${this.file}: ${describeError(err)}`);
    }
  }
}

// The PostgreSQL `copy` plan (compat: WAL-G's BuildCopyPlan): each requested backup with the delta chain it needs,
// its stop sentinel last (parents before children), and with `withHistory` the WAL from the backup's start segment
// on; without it, through the backup's finish segment. Object names are kept; payloads are never transformed.
// standaloneCopyPlan is the Redis one: each backup's objects, then its sentinel.

import { WalgError } from '../core/errors.ts';
import { readAll } from '../storage/body.ts';
import type { CopyEntry } from '../storage/transfer.ts';
import type { Storage } from '../storage/types.ts';
import { BASEBACKUPS_PATH, METADATA_FILE, SENTINEL_SUFFIX, WAL_PATH, backupFolder, sentinelKey } from './layout.ts';
import { decodeSentinel } from './sentinel.ts';

const COMPRESSION_EXT = /\.(br|gz|lz4|lzma|lzo|zst)$/;
const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;

/** Names of finished backups in a source inventory (a sentinel directly under basebackups_005/), sorted. */
export function backupNames(source: ReadonlyMap<string, number>): string[] {
  const out: string[] = [];
  for (const k of source.keys()) {
    if (!k.startsWith(BASEBACKUPS_PATH) || !k.endsWith(SENTINEL_SUFFIX)) continue;
    const rel = k.slice(BASEBACKUPS_PATH.length);
    if (!rel.includes('/')) out.push(rel.slice(0, -SENTINEL_SUFFIX.length));
  }
  return out.sort();
}

function segmentNumber(name: string, segmentSize: number): { timeline: number; seg: bigint } | undefined {
  const m = SEGMENT.exec(name);
  if (!m) return undefined;
  const perId = 0x1_0000_0000n / BigInt(segmentSize);
  return { timeline: parseInt(m[1]!, 16), seg: BigInt(parseInt(m[2]!, 16)) * perId + BigInt(parseInt(m[3]!, 16)) };
}

/**
 * Builds the copy entries for `requested` ('' = every backup, 'LATEST' = the newest by sentinel time, else a name)
 * from the source inventory. Throws WalgError when a needed object (a parent backup, the first or last WAL segment)
 * is missing or the WAL range has a gap.
 */
export async function pgCopyPlan(from: Storage, source: ReadonlyMap<string, number>, requested: string, withHistory: boolean, opts: { segmentSize?: number; latest?: () => Promise<string> } = {}): Promise<CopyEntry[]> {
  const segSize = opts.segmentSize ?? 16 * 1024 * 1024;
  const entries = new Map<string, CopyEntry>();
  const add = (key: string, phase: number, sequence = 0) => {
    const size = source.get(key);
    if (size === undefined) throw new WalgError(`required source object '${key}' does not exist`);
    const prev = entries.get(key);
    if (!prev || prev.phase * 1e6 + prev.sequence < phase * 1e6 + sequence) entries.set(key, { source: key, target: key, size, phase, sequence });
  };
  let names: string[];
  if (requested === '') {
    names = backupNames(source);
    if (names.length === 0) throw new WalgError('No backups found');
  } else if (requested === 'LATEST') {
    if (!opts.latest) throw new WalgError('LATEST needs the source listing');
    names = [await opts.latest()];
  } else {
    if (!source.has(sentinelKey(requested))) throw new WalgError(`Backup '${requested}' does not exist.`);
    names = [requested];
  }
  const depths = new Map<string, number>();
  const visiting = new Set<string>();
  const addChain = async (name: string): Promise<{ depth: number; finishLsn: bigint }> => {
    if (visiting.has(name)) throw new WalgError(`cycle in PostgreSQL incremental backup chain at '${name}'`);
    const key = sentinelKey(name);
    if (!source.has(key)) throw new WalgError(`Backup '${name}' does not exist.`);
    const sentinel = decodeSentinel((await readAll(await from.get(key))).toString('utf8'), key);
    if (depths.has(name)) return { depth: depths.get(name)!, finishLsn: sentinel.FinishLSN };
    visiting.add(name);
    let depth = 0;
    if (sentinel.DeltaFrom) depth = (await addChain(sentinel.DeltaFrom)).depth + 1;
    visiting.delete(name);
    const folder = backupFolder(name);
    for (const k of source.keys()) {
      if (!k.startsWith(folder)) continue;
      add(k, k === `${folder}${METADATA_FILE}` ? 1 : 0);
    }
    add(key, 2, depth);
    depths.set(name, depth);
    return { depth, finishLsn: sentinel.FinishLSN };
  };
  for (const name of names) {
    const { finishLsn } = await addChain(name);
    const first = /^base_([0-9A-F]{24})/.exec(name)?.[1];
    if (!first) continue; // not a PG backup name: no WAL range to derive
    const start = segmentNumber(first, segSize)!;
    const last = finishLsn > 0n ? (finishLsn - 1n) / BigInt(segSize) : start.seg;
    const seen = new Map<number, bigint[]>();
    for (const k of source.keys()) {
      if (!k.startsWith(WAL_PATH)) continue;
      const base = k.slice(WAL_PATH.length).replace(COMPRESSION_EXT, '');
      if (base.endsWith('.history')) { add(k, 0); continue; }
      const seg = segmentNumber(base.slice(0, 24), segSize);
      if (!seg || seg.timeline < start.timeline) continue;
      if (seg.seg < start.seg || (!withHistory && seg.seg > last)) continue;
      add(k, 0);
      if (base.length === 24) seen.set(seg.timeline, [...(seen.get(seg.timeline) ?? []), seg.seg]);
    }
    const onStart = seen.get(start.timeline) ?? [];
    if (!onStart.includes(start.seg)) throw new WalgError(`first required PostgreSQL WAL segment '${first}' is missing`);
    if (!withHistory && !onStart.includes(last)) throw new WalgError(`last required PostgreSQL WAL segment of backup '${name}' is missing`);
    for (const [tl, segs] of seen) {
      segs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      for (let i = 1; i < segs.length; i++) {
        if (segs[i]! !== segs[i - 1]! + 1n && segs[i]! !== segs[i - 1]!) {
          throw new WalgError(`gap in PostgreSQL WAL history on timeline ${tl.toString(16).toUpperCase().padStart(8, '0')} between segments ${segs[i - 1]} and ${segs[i]}`);
        }
      }
    }
  }
  return [...entries.values()];
}

/**
 * The plan for standalone backups (compat: the Redis copy.Plan's AddBackup): for `requested` ('' = every backup,
 * 'LATEST', or a name) every object under the backup's folder, then its sentinel. Names are kept.
 */
export async function standaloneCopyPlan(source: ReadonlyMap<string, number>, requested: string, latest: () => Promise<string>): Promise<CopyEntry[]> {
  let names: string[];
  if (requested === '') {
    names = backupNames(source);
    if (names.length === 0) throw new WalgError('No backups found');
  } else if (requested === 'LATEST') {
    names = [await latest()];
  } else {
    if (!source.has(sentinelKey(requested))) throw new WalgError(`Backup '${requested}' does not exist.`);
    names = [requested];
  }
  const out: CopyEntry[] = [];
  for (const name of names) {
    const folder = backupFolder(name);
    for (const [k, size] of source) if (k.startsWith(folder)) out.push({ source: k, target: k, size, phase: 0, sequence: 0 });
    const key = sentinelKey(name);
    out.push({ source: key, target: key, size: source.get(key) ?? 0, phase: 2, sequence: 0 });
  }
  return out;
}

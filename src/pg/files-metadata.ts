// files_metadata.json of a PostgreSQL backup (walg-format.md §1.7): the per-entry file descriptions (mtime with
// nanoseconds, increment/skip flags) and which tar holds which entry. Written as a stream, read whole.

import { Readable } from 'node:stream';
import { CorruptObjectError, ObjectNotFoundError } from '../core/errors.ts';
import { filesMetadataKey } from '../backup/layout.ts';
import { readAll } from '../storage/body.ts';
import type { Storage } from '../storage/types.ts';
import { lowerKeys, parseJsonExact } from '../backup/json.ts';

/** One entry of `Files` (compat: internal/backup_file_description.go, field order as declared there). */
export interface FileDescription {
  IsIncremented: boolean;
  IsSkipped: boolean;
  /** RFC3339Nano in the local zone with nanoseconds, as Go's time.Time marshals ModTime(). */
  MTime: string;
  CorruptBlocks?: { CorruptBlocksCount: number; SomeCorruptBlocks: number[] };
  UpdatesCount: number;
}

/** The parsed object. DatabasesByNames is kept as raw JSON (partial restore is not implemented). */
export interface FilesMetadata {
  Files: Map<string, FileDescription>;
  TarFileSets: Map<string, string[]>;
  DatabasesByNames?: unknown;
}

/**
 * compat: Go's time.Time JSON form of os.FileInfo.ModTime(): RFC3339Nano in the local zone, trailing zeros of the
 * fraction removed, 'Z' when the offset is zero. `ns` = stat mtimeNs (bigint, exact).
 */
export function localRfc3339Nano(ns: bigint): string {
  let sec = ns / 1_000_000_000n;
  let frac = ns % 1_000_000_000n;
  if (frac < 0n) { frac += 1_000_000_000n; sec -= 1n; }
  const ms = Number(sec) * 1000;
  const offMin = -new Date(ms).getTimezoneOffset();
  const wall = new Date(ms + offMin * 60_000).toISOString().slice(0, 19);
  const f = frac === 0n ? '' : `.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`;
  if (offMin === 0) return `${wall}${f}Z`;
  const a = Math.abs(offMin);
  return `${wall}${f}${offMin < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/**
 * Parses an RFC3339 / RFC3339Nano time (any offset, any fraction length up to 9 digits) into nanoseconds since the
 * epoch, or undefined when it is not one. Used to compare a parent's recorded MTime with a file's mtime exactly.
 */
export function parseRfc3339Ns(text: string): bigint | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (Number.isNaN(ms)) return undefined;
  let off = 0;
  if (m[8] !== 'Z') {
    const sign = m[8]!.startsWith('-') ? -1 : 1;
    off = sign * (Number(m[8]!.slice(1, 3)) * 60 + Number(m[8]!.slice(4, 6)));
  }
  const frac = BigInt((m[7] ?? '').padEnd(9, '0') || '0');
  return (BigInt(ms) - BigInt(off) * 60_000n) * 1_000_000n + frac;
}

const q = (s: string) => JSON.stringify(s);

function describe(d: FileDescription): string {
  let s = `{"IsIncremented":${d.IsIncremented},"IsSkipped":${d.IsSkipped},"MTime":${q(d.MTime)}`;
  if (d.CorruptBlocks) s += `,"CorruptBlocks":${JSON.stringify(d.CorruptBlocks)}`;
  return `${s},"UpdatesCount":${d.UpdatesCount}}`;
}

/**
 * Serialises files_metadata.json lazily, in small string pieces, so a backup of millions of files never builds
 * one huge string. Keys are sorted (Go's json/v2 leaves map order unspecified); empty maps are omitted
 * (omitempty), as is DatabasesByNames when undefined.
 */
export function* encodeFilesMetadata(m: FilesMetadata): Generator<string> {
  const parts: string[] = [];
  yield '{';
  let first = true;
  if (m.Files.size > 0) {
    yield '"Files":{';
    let i = 0;
    for (const name of [...m.Files.keys()].sort()) {
      parts.push(`${i++ ? ',' : ''}${q(name)}:${describe(m.Files.get(name)!)}`);
      if (parts.length >= 512) { yield parts.join(''); parts.length = 0; }
    }
    if (parts.length) { yield parts.join(''); parts.length = 0; }
    yield '}';
    first = false;
  }
  if (m.TarFileSets.size > 0) {
    yield `${first ? '' : ','}"TarFileSets":{`;
    let i = 0;
    for (const tar of [...m.TarFileSets.keys()].sort()) {
      yield `${i++ ? ',' : ''}${q(tar)}:${JSON.stringify(m.TarFileSets.get(tar))}`;
    }
    yield '}';
    first = false;
  }
  if (m.DatabasesByNames !== undefined) yield `${first ? '' : ','}"DatabasesByNames":${JSON.stringify(m.DatabasesByNames)}`;
  yield '}';
}

/** A re-openable upload body of the encoded metadata (storage retries may read it again). */
export function filesMetadataBody(m: FilesMetadata): () => Readable {
  return () => Readable.from((function* () { for (const s of encodeFilesMetadata(m)) yield Buffer.from(s, 'utf8'); })());
}

/** Parses files_metadata.json (keys matched case-insensitively, as Go's encoding/json v1 does). */
export function decodeFilesMetadata(text: string, name = 'files_metadata.json'): FilesMetadata {
  let raw: unknown;
  try { raw = parseJsonExact(text); } catch (err) { throw new CorruptObjectError(`${name}: not valid JSON`, { cause: err }); }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CorruptObjectError(`${name}: not a JSON object`);
  const o = lowerKeys(raw as Record<string, unknown>);
  const files = new Map<string, FileDescription>();
  const tars = new Map<string, string[]>();
  if (o.files !== undefined && o.files !== null) {
    if (typeof o.files !== 'object' || Array.isArray(o.files)) throw new CorruptObjectError(`${name}: Files is not an object`);
    for (const [k, v] of Object.entries(o.files as Record<string, unknown>)) {
      const d = lowerKeys((v ?? {}) as Record<string, unknown>);
      files.set(k, {
        IsIncremented: d.isincremented === true,
        IsSkipped: d.isskipped === true,
        MTime: typeof d.mtime === 'string' ? d.mtime : '',
        CorruptBlocks: d.corruptblocks as FileDescription['CorruptBlocks'],
        UpdatesCount: Number(d.updatescount ?? 0),
      });
    }
  }
  if (o.tarfilesets !== undefined && o.tarfilesets !== null) {
    if (typeof o.tarfilesets !== 'object' || Array.isArray(o.tarfilesets)) throw new CorruptObjectError(`${name}: TarFileSets is not an object`);
    for (const [k, v] of Object.entries(o.tarfilesets as Record<string, unknown>)) {
      tars.set(k, Array.isArray(v) ? v.map(String) : []);
    }
  }
  return { Files: files, TarFileSets: tars, DatabasesByNames: o.databasesbynames ?? undefined };
}

/** Downloads and parses a backup's files_metadata.json; undefined when the object does not exist. */
export async function fetchFilesMetadata(storage: Storage, backup: string, signal?: AbortSignal): Promise<FilesMetadata | undefined> {
  const key = filesMetadataKey(backup);
  try {
    return decodeFilesMetadata((await readAll(await storage.get(key, { signal }))).toString('utf8'), key);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
}

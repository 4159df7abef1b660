// files_metadata.json of a PostgreSQL backup (walg-format.md §1.7): the per-entry file descriptions (mtime with
// nanoseconds, increment/skip flags) and which tar holds which entry. Written as a stream and read as one (a
// cluster may have a million files); the descriptions are held in a FilesTable, not as one object per file.

import { Readable } from 'node:stream';
import { CorruptObjectError, ObjectNotFoundError } from '../core/errors.ts';
import { filesMetadataKey } from '../backup/layout.ts';
import type { Storage } from '../storage/types.ts';
import { lowerKeys } from '../backup/json.ts';
import { parseMember, readJsonMembers } from '../backup/json-members.ts';

/** One entry of `Files` (compat: internal/backup_file_description.go, field order as declared there). */
export interface FileDescription {
  IsIncremented: boolean;
  IsSkipped: boolean;
  /** RFC3339Nano in the local zone with nanoseconds, as Go's time.Time marshals ModTime(). */
  MTime: string;
  CorruptBlocks?: { CorruptBlocksCount: number; SomeCorruptBlocks: number[] };
  UpdatesCount: number;
}

/** What reading and encoding need of a file list: a Map<string, FileDescription> is one, and so is a FilesTable. */
export interface FilesView {
  readonly size: number;
  keys(): IterableIterator<string>;
  get(name: string): FileDescription | undefined;
  has(name: string): boolean;
}

const INCREMENTED = 1;
const SKIPPED = 2;

/**
 * A compact file list: one Map slot (name -> small integer) per file, the flags in a byte array and the MTime text
 * in an array; the rare CorruptBlocks and non-zero UpdatesCount aside. About a third of the memory of one
 * FileDescription object per file, and nothing for the collector to trace per file but the strings.
 */
export class FilesTable implements FilesView {
  readonly #index = new Map<string, number>();
  #flags = new Uint8Array(1024);
  readonly #mtimes: string[] = [];
  readonly #extra = new Map<number, Pick<FileDescription, 'CorruptBlocks' | 'UpdatesCount'>>();

  get size(): number { return this.#index.size; }

  keys(): IterableIterator<string> { return this.#index.keys(); }

  has(name: string): boolean { return this.#index.has(name); }

  /** Records (or replaces) `name`'s description; the description is copied. */
  set(name: string, d: FileDescription): this {
    let i = this.#index.get(name);
    if (i === undefined) {
      i = this.#mtimes.length;
      this.#index.set(name, i);
      if (i >= this.#flags.length) {
        const grown = new Uint8Array(this.#flags.length * 2);
        grown.set(this.#flags);
        this.#flags = grown;
      }
    }
    this.#flags[i] = (d.IsIncremented ? INCREMENTED : 0) | (d.IsSkipped ? SKIPPED : 0);
    this.#mtimes[i] = d.MTime;
    if (d.CorruptBlocks || d.UpdatesCount) this.#extra.set(i, { CorruptBlocks: d.CorruptBlocks, UpdatesCount: d.UpdatesCount });
    else this.#extra.delete(i);
    return this;
  }

  /** A fresh FileDescription of `name`, or undefined. */
  get(name: string): FileDescription | undefined {
    const i = this.#index.get(name);
    if (i === undefined) return undefined;
    const f = this.#flags[i]!;
    const extra = this.#extra.get(i);
    const d: FileDescription = { IsIncremented: (f & INCREMENTED) !== 0, IsSkipped: (f & SKIPPED) !== 0, MTime: this.#mtimes[i]!, UpdatesCount: extra?.UpdatesCount ?? 0 };
    if (extra?.CorruptBlocks) d.CorruptBlocks = extra.CorruptBlocks;
    return d;
  }

  /** `name`'s recorded MTime text, or undefined when the list does not have it. */
  mtime(name: string): string | undefined {
    const i = this.#index.get(name);
    return i === undefined ? undefined : this.#mtimes[i];
  }

  /** True when `name` is recorded as an increment. */
  isIncremented(name: string): boolean {
    const i = this.#index.get(name);
    return i !== undefined && (this.#flags[i]! & INCREMENTED) !== 0;
  }
}

/** The parsed object. DatabasesByNames is kept as raw JSON (partial restore is not implemented). */
export interface FilesMetadata {
  Files: FilesTable;
  TarFileSets: Map<string, string[]>;
  DatabasesByNames?: unknown;
}

/** What encodeFilesMetadata takes: any file list. */
export interface FilesMetadataInput {
  Files: FilesView;
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
export function* encodeFilesMetadata(m: FilesMetadataInput): Generator<string> {
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
export function filesMetadataBody(m: FilesMetadataInput): () => Readable {
  return () => Readable.from((function* () { for (const s of encodeFilesMetadata(m)) yield Buffer.from(s, 'utf8'); })());
}

const ENTRY_KEYS = ['IsIncremented', 'IsSkipped', 'MTime', 'CorruptBlocks', 'UpdatesCount'];

function describeEntry(v: unknown): FileDescription {
  const o = (v ?? {}) as Record<string, unknown>;
  // The usual spelling is read as it is; any other goes through the case-insensitive copy.
  const plain = Object.keys(o).every((k) => ENTRY_KEYS.includes(k));
  const d = plain
    ? { isincremented: o.IsIncremented, isskipped: o.IsSkipped, mtime: o.MTime, corruptblocks: o.CorruptBlocks, updatescount: o.UpdatesCount }
    : lowerKeys(o);
  return {
    IsIncremented: d.isincremented === true,
    IsSkipped: d.isskipped === true,
    MTime: typeof d.mtime === 'string' ? d.mtime : '',
    CorruptBlocks: d.corruptblocks as FileDescription['CorruptBlocks'],
    UpdatesCount: Number(d.updatescount ?? 0),
  };
}

const SECTIONS: ReadonlySet<string> = new Set(['files', 'tarfilesets']);

// An entry as our encoder and WAL-G's write it, read without JSON.parse (which makes several objects per file and
// interns every name); the name and MTime are fresh strings of their bytes. Anything else (another field order or
// spelling, CorruptBlocks, escapes) goes through JSON.parse.
const PLAIN_ENTRY = /^\s*"([^"\\]*)"\s*:\s*\{"IsIncremented":(true|false),"IsSkipped":(true|false),"MTime":"([^"\\]*)","UpdatesCount":(\d+)\}\s*$/d;

function addEntry(files: FilesTable, raw: Buffer): void {
  const m = PLAIN_ENTRY.exec(raw.toString('latin1'));
  if (m?.indices) {
    const [ks, ke] = m.indices[1]!;
    const [ms, me] = m.indices[4]!;
    files.set(raw.toString('utf8', ks, ke), { IsIncremented: m[2] === 'true', IsSkipped: m[3] === 'true', MTime: raw.toString('latin1', ms, me), UpdatesCount: Number(m[5]) });
    return;
  }
  const [key, value] = parseMember(raw);
  files.set(key, describeEntry(value));
}


/**
 * Parses files_metadata.json as it arrives (keys matched case-insensitively, as Go's encoding/json v1 does).
 * `tarFileSets: false` drops TarFileSets unread (backup-fetch lists the partitions instead). Throws
 * CorruptObjectError naming `name` on text that is not files metadata.
 */
export async function decodeFilesMetadata(source: AsyncIterable<Buffer | string> | string, name = 'files_metadata.json', opts: { tarFileSets?: boolean } = {}): Promise<FilesMetadata> {
  const files = new FilesTable();
  const tars = new Map<string, string[]>();
  let databases: unknown;
  const input = typeof source === 'string' ? [source] : source;
  const mustBeObject = (what: string, v: unknown) => {
    if (v !== null && (typeof v !== 'object' || Array.isArray(v))) throw new CorruptObjectError(`${name}: ${what} is not an object`);
  };
  try {
    for await (const m of readJsonMembers((async function* () { yield* input; })(), SECTIONS)) {
      if (m.section === 'files') addEntry(files, m.raw);
      else if (m.section === 'tarfilesets') {
        if (opts.tarFileSets === false) continue;
        const [key, value] = parseMember(m.raw);
        tars.set(key, Array.isArray(value) ? value.map(String) : []);
      } else if (m.section === undefined) {
        const key = m.key.toLowerCase();
        if (key === 'files') mustBeObject('Files', m.value);
        else if (key === 'tarfilesets') mustBeObject('TarFileSets', m.value);
        else if (key === 'databasesbynames') databases = m.value ?? undefined;
      }
    }
  } catch (err) {
    if (err instanceof SyntaxError) throw new CorruptObjectError(`${name}: not valid JSON`, { cause: err });
    throw err;
  }
  return { Files: files, TarFileSets: tars, DatabasesByNames: databases };
}

/** Downloads and parses (as a stream) a backup's files_metadata.json; undefined when the object does not exist. */
export async function fetchFilesMetadata(storage: Storage, backup: string, signal?: AbortSignal, opts: { tarFileSets?: boolean } = {}): Promise<FilesMetadata | undefined> {
  const key = filesMetadataKey(backup);
  let body: Readable;
  try {
    body = await storage.get(key, { signal });
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
  try {
    return await decodeFilesMetadata(body as AsyncIterable<Buffer>, key, opts);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  } finally {
    body.destroy();
  }
}

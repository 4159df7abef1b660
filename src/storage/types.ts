// The one storage interface every driver (drivers/: memory, file, S3, Swift, GCS, Azure, SSH) implements, and
// every wrapper (wrap/: retry, rate limit, prefix, fault; failover/: reporting, merged and routed views) keeps.
// Keys are relative to the configured prefix, '/'-separated, never starting with '/'. Folders end with '/'.

import type { Readable } from 'node:stream';

/** One entry of a listing. `dir` entries appear only in non-recursive listings and have key ending in '/'. */
export interface ListEntry {
  type: 'obj' | 'dir';
  key: string;
  size: number;
  lastModified: Date;
  /**
   * The same instant in nanoseconds since the epoch, from drivers that know it (file storage: the file's mtime).
   * compat: WAL-G prints a file storage's modification times with nanoseconds (backup-list `time`).
   */
  lastModifiedNs?: bigint;
  /**
   * The zone name the service's timestamp carried, when it is not UTC (Azure: 'GMT').
   * compat: WAL-G prints object times with Go's time.String(), whose zone is the parsed one: "+0000 GMT" on Azure.
   */
  zoneName?: string;
}

/** Metadata of one stored object (lastModifiedNs and zoneName as in ListEntry). */
export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
  lastModifiedNs?: bigint;
  zoneName?: string;
}

/**
 * An upload body. A Buffer or a factory can be re-sent by retries; a bare Readable is single-shot
 * (a failed upload of it is not retried from scratch, though drivers may retry buffered parts).
 */
export type Body = Buffer | Readable | (() => Readable);

export interface PutOptions {
  signal?: AbortSignal;
  /** Expected size in bytes when known; lets drivers pick single vs multipart uploads. */
  sizeHint?: number;
}

export interface GetOptions {
  signal?: AbortSignal;
  /** Byte range [start, end) ; end omitted = to the end of the object. */
  range?: { start: number; end?: number };
}

export interface ListOptions {
  signal?: AbortSignal;
  /** false (default): one level, with 'dir' entries for sub-folders. true: every object below, no dirs. */
  recursive?: boolean;
}

/**
 * Storage driver contract (checked by test/conformance/storage-suite.ts on every driver):
 * - put is atomic: a reader sees either the old object, nothing, or the whole new object; never a part.
 *   A failed or aborted put leaves no object under the key (and no listed temp object).
 * - get/stat throw ObjectNotFoundError for a missing key; other failures throw StorageError.
 * - list(prefix) takes '' or a folder ending in '/'; entries come in lexicographic key order per page.
 * - delete ignores keys that do not exist.
 */
export interface Storage {
  /** 'default' for the primary storage, or the failover name. */
  readonly name: string;
  /** Driver type: 'memory' | 'file' | 's3' | 'swift' | 'gcs' | 'azure' | 'ssh' ('multi' for failover views). */
  readonly type: string;
  put(key: string, body: Body, opts?: PutOptions): Promise<void>;
  get(key: string, opts?: GetOptions): Promise<Readable>;
  stat(key: string, opts?: { signal?: AbortSignal }): Promise<ObjectInfo>;
  exists(key: string, opts?: { signal?: AbortSignal }): Promise<boolean>;
  list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry>;
  delete(keys: readonly string[], opts?: { signal?: AbortSignal }): Promise<void>;
  close(): Promise<void>;
}

/** Joins key parts with '/', trimming duplicate slashes as WAL-G's JoinPath does. */
export function joinKey(...parts: string[]): string {
  return parts
    .filter((p) => p.length > 0)
    .map((p, i) => (i === 0 ? p.replace(/\/+$/, '') : p.replace(/^\/+|\/+$/g, '')))
    .filter((p) => p.length > 0)
    .join('/');
}

/** Normalises a listing prefix: '' stays '', anything else gets exactly one trailing '/'. */
export function folderPrefix(prefix: string): string {
  const p = prefix.replace(/^\/+/, '');
  if (p === '') return '';
  return p.endsWith('/') ? p : `${p}/`;
}

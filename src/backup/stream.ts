// Stream backups in storage (walg-format.md §6.1): one compressed+encrypted object `<backup>/stream.<ext>`, or,
// with WALG_STREAM_SPLITTER_*, the plaintext cut into fixed blocks dealt round-robin to P partitions
// (`part_%04d.<ext>`, or `part_%04d_%04d.<ext>` files of at most MAX_FILE_SIZE plain bytes each) described by
// `<backup>/stream_metadata.json`. Upload and download are streamed with bounded memory; nothing here writes a
// sentinel, so a failed upload is never a listed backup.

import { once } from 'node:events';
import { PassThrough, Readable, Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { ConfigError, CorruptObjectError, ObjectNotFoundError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import { readAll } from '../storage/body.ts';
import type { Storage } from '../storage/types.ts';
import { STREAM_METADATA_FILE, backupFolder } from './layout.ts';
import { stringifyGo } from './json.ts';
import { decodeStages, encodeStages, through, withExtension } from '../pipeline/pipeline.ts';
import type { DataPipeline } from '../pipeline/pipeline.ts';
import type { Crypter } from '../pipeline/types.ts';

/** compat: stream_metadata.json types. */
export const SPLIT_MERGE_STREAM_BACKUP = 'SPLIT_MERGE_STREAM_BACKUP';
export const SINGLE_STREAM_BACKUP = 'STREAM_BACKUP';

/** How a stream is split; partitions <= 1 and maxFileSize 0 means a single stream. */
export interface SplitOptions {
  partitions: number;
  blockSize: number;
  /** Plain bytes per partition file; 0 = one file per partition. */
  maxFileSize: number;
}

/** WALG_STREAM_SPLITTER_{PARTITIONS,BLOCK_SIZE,MAX_FILE_SIZE} as the command read them. */
export interface SplitSettings {
  /** Unset: no split (compat: viper's zero value). */
  partitions?: number;
  blockSize: number;
  /** Unset: one file per partition. */
  maxFileSize?: number;
}

/** Validates the splitter settings. Throws ConfigError for a negative count or size or a block size below 1. */
export function splitOptions(settings: SplitSettings): SplitOptions {
  const { partitions = 0, blockSize, maxFileSize = 0 } = settings;
  if (partitions < 0 || maxFileSize < 0) throw new ConfigError('WALG_STREAM_SPLITTER_* settings must not be negative');
  if (!(blockSize > 0)) throw new ConfigError('WALG_STREAM_SPLITTER_BLOCK_SIZE must be positive');
  return { partitions, blockSize, maxFileSize };
}

/** True when the options ask for a split stream (compat: partitions > 1 or a max file size). */
export function isSplit(o: SplitOptions): boolean {
  return o.partitions > 1 || o.maxFileSize > 0;
}

/** Key of the single-stream object. */
export function streamKey(backup: string, ext: string): string {
  return `${backupFolder(backup)}${ext ? `stream.${ext}` : 'stream'}`;
}

/** Key of a partition object (file index only with a max file size). */
export function partitionKey(backup: string, ext: string, part: number, file?: number): string {
  const base = `${backupFolder(backup)}part_${String(part).padStart(4, '0')}${file === undefined ? '' : `_${String(file).padStart(4, '0')}`}`;
  return ext ? `${base}.${ext}` : base;
}

/** A Transform that counts the bytes passing through. */
export class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/** Sizes of an uploaded stream. */
export interface UploadedStream {
  uncompressedSize: number;
  compressedSize: number;
  /** Every object key written (for logs and tests). */
  keys: string[];
}

/** Where and how to upload a stream. */
export interface StreamUploadOptions {
  storage: Storage;
  pipeline: DataPipeline;
  backup: string;
  split: SplitOptions;
  signal?: AbortSignal;
}

/**
 * Uploads `source` as the data objects of `backup` (single or split), then, when split, stream_metadata.json.
 * Resolves only when every put has finished; on failure every started put has settled before the error is thrown,
 * so a cleanup that follows cannot race a late put.
 */
export async function uploadStream(source: Readable, o: StreamUploadOptions): Promise<UploadedStream> {
  const ext = o.pipeline.compressor?.extension ?? '';
  if (!isSplit(o.split)) {
    const raw = new ByteCounter();
    const out = new ByteCounter();
    const key = streamKey(o.backup, ext);
    try {
      await o.storage.put(key, through(source, [raw, ...encodeStages(o.pipeline), out]), { signal: o.signal });
    } catch (err) {
      source.destroy();
      throw err;
    }
    log.info(`FILE PATH: ${key}`);
    return { uncompressedSize: raw.bytes, compressedSize: out.bytes, keys: [key] };
  }
  return uploadSplit(source, o, ext);
}

async function uploadSplit(source: Readable, o: StreamUploadOptions, ext: string): Promise<UploadedStream> {
  const partitions = Math.max(1, o.split.partitions);
  const { blockSize, maxFileSize } = o.split;
  const puts: Array<Promise<void>> = [];
  const keys: string[] = [];
  const sinks: PassThrough[] = [];
  let failure: Error | undefined;
  let failed!: (err: Error) => void;
  const failedP = new Promise<never>((_r, reject) => { failed = reject; });
  failedP.catch(() => {});
  const fail = (err: unknown) => {
    if (failure) return;
    failure = err instanceof Error ? err : new Error(String(err));
    failed(failure);
  };
  let compressedSize = 0;
  let uncompressedSize = 0;

  // One writer per partition: the current file's PassThrough feeds a storage put through compress+encrypt.
  const writers = Array.from({ length: partitions }, (_, part) => {
    let cur: { sink: PassThrough; put: Promise<void>; written: number } | undefined;
    let fileIndex = 0;
    const open = () => {
      const key = partitionKey(o.backup, ext, part, maxFileSize > 0 ? fileIndex++ : undefined);
      const sink = new PassThrough({ highWaterMark: 1 << 20 });
      const out = new ByteCounter();
      const put = o.storage.put(key, through(sink, [...encodeStages(o.pipeline), out]), { signal: o.signal })
        .then(() => { compressedSize += out.bytes; log.info(`FILE PATH: ${key}`); });
      put.catch(fail);
      puts.push(put);
      keys.push(key);
      sinks.push(sink);
      cur = { sink, put, written: 0 };
      return cur;
    };
    const close = async () => {
      if (!cur) return;
      const c = cur;
      cur = undefined;
      c.sink.end();
      await Promise.race([c.put, failedP]);
    };
    return {
      async write(buf: Buffer): Promise<void> {
        let off = 0;
        while (off < buf.length) {
          const c = cur ?? open();
          const room = maxFileSize > 0 ? maxFileSize - c.written : buf.length - off;
          const piece = buf.subarray(off, off + Math.min(room, buf.length - off));
          off += piece.length;
          c.written += piece.length;
          if (!c.sink.write(piece)) await Promise.race([once(c.sink, 'drain'), failedP]);
          if (maxFileSize > 0 && c.written >= maxFileSize) await close();
        }
      },
      async end(): Promise<void> {
        // compat: without a max file size every partition is one object, even when empty; with one, a partition
        // never gets an empty trailing file (WAL-G uploads and then deletes it).
        if (!cur && maxFileSize === 0) open();
        await close();
      },
    };
  });

  try {
    let block = Buffer.allocUnsafe(blockSize);
    let filled = 0;
    let next = 0;
    const flush = async (n: number) => {
      const data = block.subarray(0, n);
      block = Buffer.allocUnsafe(blockSize); // the sink may still hold the old one
      filled = 0;
      await writers[next]!.write(data);
      next = (next + 1) % partitions;
    };
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (failure) throw failure;
      uncompressedSize += chunk.length;
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(blockSize - filled, chunk.length - off);
        chunk.copy(block, filled, off, off + n);
        filled += n;
        off += n;
        if (filled === blockSize) await flush(blockSize);
      }
    }
    if (filled > 0) await flush(filled);
    for (const w of writers) await w.end();
    if (failure) throw failure;
  } catch (err) {
    fail(err);
    source.destroy();
    for (const s of sinks) s.destroy(failure);
    await Promise.allSettled(puts);
    throw failure ?? err;
  }
  await Promise.all(puts);
  const meta = { type: SPLIT_MERGE_STREAM_BACKUP, partitions, block_size: blockSize, compression: ext };
  const metaKey = `${backupFolder(o.backup)}${STREAM_METADATA_FILE}`;
  await o.storage.put(metaKey, Buffer.from(stringifyGo(meta)), { signal: o.signal });
  keys.push(metaKey);
  return { uncompressedSize, compressedSize, keys };
}

/** stream_metadata.json as stored (compat: missing or type STREAM_BACKUP/"" = single stream). */
export interface StreamMetadata { type: string; partitions?: number; block_size?: number; compression?: string }

/** Reads a split stream's files from ByteReaders of its partitions. */
class ByteReader {
  private readonly it: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  constructor(source: AsyncIterable<Buffer>) { this.it = source[Symbol.asyncIterator](); }
  /** Up to n bytes; fewer only at the end of the partition. */
  async read(n: number): Promise<Buffer> {
    while (this.buf.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    return out;
  }
  async close(): Promise<void> { await this.it.return?.(); }
}

/**
 * Opens the plain stream of a backup: decrypted, decompressed and, for a split backup, merged back in block order.
 * Throws ObjectNotFoundError when the backup has no stream objects.
 */
export async function openBackupStream(storage: Storage, crypter: Crypter | undefined, backup: string, signal?: AbortSignal): Promise<Readable> {
  const { compressorForExtension } = await import('../pipeline/compress/index.ts');
  const folder = backupFolder(backup);
  const names: string[] = [];
  for await (const e of storage.list(folder, { signal })) if (e.type === 'obj') names.push(e.key.slice(folder.length));
  let meta: StreamMetadata | undefined;
  if (names.includes(STREAM_METADATA_FILE)) {
    try {
      meta = JSON.parse((await readAll(await storage.get(`${folder}${STREAM_METADATA_FILE}`, { signal }))).toString('utf8')) as StreamMetadata;
    } catch (err) {
      if (err instanceof SyntaxError) throw new CorruptObjectError(`${folder}${STREAM_METADATA_FILE}: not valid JSON`, { cause: err });
      throw err;
    }
  }
  const decoded = async function* (key: string, ext: string): AsyncGenerator<Buffer> {
    const compressor = await compressorForExtension(ext);
    if (!compressor) throw new CorruptObjectError(`decompressor for file type '${ext}' not found`);
    const s = through(await storage.get(key, { signal }), decodeStages({ crypter, compressor }));
    try {
      for await (const c of s as AsyncIterable<Buffer>) yield c;
    } finally {
      s.destroy();
    }
  };
  if (!meta || meta.type === SINGLE_STREAM_BACKUP || meta.type === '' || meta.type === undefined) {
    const hit = names.find((n) => n === 'stream' || (n.startsWith('stream.') && n !== STREAM_METADATA_FILE));
    if (!hit) throw new ObjectNotFoundError(`${folder}stream`);
    const ext = hit === 'stream' ? '' : hit.slice('stream.'.length);
    log.debug(`Found file: ${folder}${hit}`);
    return Readable.from(decoded(`${folder}${hit}`, ext), { objectMode: false });
  }
  if (meta.type !== SPLIT_MERGE_STREAM_BACKUP) throw new CorruptObjectError(`Unknown backup type ${meta.type}`);
  const ext = meta.compression ?? '';
  const blockSize = Number(meta.block_size ?? 0);
  if (!(blockSize > 0)) throw new CorruptObjectError(`${folder}${STREAM_METADATA_FILE}: bad block_size`);
  // compat: GetPartitionedBackupFileNames — partitions in order until one is missing; per partition either the
  // numbered files from _0000 up or the single part_NNNN object.
  const present = new Set(names);
  const rel = (k: string) => k.slice(folder.length);
  const parts: string[][] = [];
  for (let p = 0; ; p++) {
    const files: string[] = [];
    for (let f = 0; present.has(rel(partitionKey(backup, ext, p, f))); f++) files.push(partitionKey(backup, ext, p, f));
    if (files.length === 0 && present.has(rel(partitionKey(backup, ext, p)))) files.push(partitionKey(backup, ext, p));
    if (files.length === 0) break;
    parts.push(files);
  }
  if (parts.length === 0) throw new ObjectNotFoundError(`${folder}part_0000`);
  const readers = parts.map((files) => new ByteReader((async function* () {
    for (const f of files) yield* decoded(f, ext);
  })()));
  const merged = async function* (): AsyncGenerator<Buffer> {
    try {
      for (let i = 0; ; i = (i + 1) % readers.length) {
        const block = await readers[i]!.read(blockSize);
        if (block.length > 0) yield block;
        if (block.length < blockSize) break; // the last (partial or absent) block: every partition must be done
      }
      for (const r of readers) {
        if ((await r.read(1)).length > 0) throw new CorruptObjectError(`${folder}: split stream partitions do not line up`);
      }
    } finally {
      await Promise.allSettled(readers.map((r) => r.close()));
    }
  };
  return Readable.from(merged(), { objectMode: false });
}

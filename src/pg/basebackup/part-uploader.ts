// backup-push's part uploader: each tar part is streamed as it is written through compress -> encrypt straight
// into storage.put (walg-format.md §1.4), at most WALG_UPLOAD_CONCURRENCY at a time, with up to WALG_UPLOAD_QUEUE
// finished parts still uploading; it accounts for sizes, the per-part file lists and the first failure.

import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { Semaphore } from '../../core/concurrency.ts';
import { log } from '../../core/log.ts';
import { tarPartitionsFolder } from '../../backup/layout.ts';
import { encodeStages, through, withExtension } from '../../pipeline/pipeline.ts';
import type { DataPipeline } from '../../pipeline/pipeline.ts';
import type { Storage } from '../../storage/types.ts';
import { TarWriter } from '../../tar/writer.ts';

/** What the uploader takes from backupPush's options. */
export interface PartUploaderOptions {
  storage: Storage;
  pipeline: DataPipeline;
  /** WALG_UPLOAD_CONCURRENCY: uploads in flight (default 16; never fewer than diskConcurrency). */
  uploadConcurrency?: number;
  /** WALG_UPLOAD_DISK_CONCURRENCY: parts filled in parallel (default 1). */
  diskConcurrency?: number;
  /** WALG_UPLOAD_QUEUE: finished parts whose upload may still be running (default 2). */
  uploadQueue?: number;
  signal?: AbortSignal;
}

/** One tar part being written: its tar writer feeds its upload. */
export interface TarPart {
  number: number;
  /** Object name inside tar_partitions/, with the compressor's extension. */
  name: string;
  key: string;
  writer: TarWriter;
  /** File content bytes (compat: TarBall.AddSize — what UncompressedSize sums). */
  contentSize: number;
  /** Entry names, for files_metadata.json TarFileSets. */
  entries: string[];
  upload: Promise<void>;
}

/**
 * Opens parts (each streamed straight into storage.put), closes them, and accounts for sizes and failures. The
 * first failure (an upload, or abort()) destroys every open part's tar stream, so no failed part is stored.
 */
export class PartUploader {
  private readonly opts: PartUploaderOptions;
  private readonly folder: string;
  private readonly backupName: string;
  private readonly slots: Semaphore;
  private readonly open = new Set<TarPart>();
  private readonly pending: TarPart[] = [];
  private nextNumber = 1;
  private error: Error | undefined;
  /** Sum of closed parts' contentSize (sentinel UncompressedSize). */
  uncompressedSize = 0;
  /** Bytes the encoding stages produced so far (sentinel CompressedSize). */
  compressedSize = 0;
  /** Part name -> entry names (files_metadata.json TarFileSets). */
  readonly tarFileSets = new Map<string, string[]>();
  /** Keys of parts whose upload finished, in finishing order. */
  readonly uploadedKeys: string[] = [];

  constructor(opts: PartUploaderOptions, backupName: string) {
    this.opts = opts;
    this.folder = tarPartitionsFolder(backupName);
    this.backupName = backupName;
    this.slots = new Semaphore(Math.max(1, opts.uploadConcurrency ?? 16, opts.diskConcurrency ?? 1));
  }

  /** The first failure, if any. */
  get failure(): Error | undefined { return this.error; }

  private fail(err: Error): void {
    this.error ??= err;
    for (const p of this.open) p.writer.destroy(this.error);
  }

  /**
   * Starts a part (numbered part_NNN.tar.<ext> unless `fixedName`), with its upload already running. Waits for an
   * upload slot; throws the first failure instead when there is one.
   */
  async openPart(fixedName?: string): Promise<TarPart> {
    if (this.error) throw this.error;
    const number = this.nextNumber++; // compat: named tars consume a number too
    const name = withExtension(fixedName ?? `part_${String(number).padStart(3, '0')}.tar`, this.opts.pipeline.compressor);
    const release = await this.slots.acquire();
    if (this.error) { release(); throw this.error; }
    const writer = new TarWriter();
    // Errors reach us through the upload promise; this listener only keeps an early destroy from being "unhandled".
    writer.stream.on('error', () => {});
    const key = `${this.folder}${name}`;
    const counter = new Transform({
      transform: (chunk: Buffer, _e: BufferEncoding, cb: TransformCallback) => { this.compressedSize += chunk.length; cb(null, chunk); },
    });
    // WALG_NETWORK_RATE_LIMIT is applied by the storage itself (src/storage/wrap/rate-limit.ts).
    const stages = [...encodeStages(this.opts.pipeline), counter];
    log.info(`Starting part ${number} of backup ${this.backupName} ...`);
    const part: TarPart = { number, name, key, writer, contentSize: 0, entries: [], upload: Promise.resolve() };
    part.upload = this.opts.storage.put(key, through(writer.stream, stages), { signal: this.opts.signal })
      .then(() => { this.uploadedKeys.push(key); })
      .catch((err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        log.error(`upload: could not upload '${key}'`);
        this.fail(e);
        throw e;
      })
      .finally(release);
    part.upload.catch(() => {}); // observed via awaitAll/close
    this.open.add(part);
    return part;
  }

  /**
   * Ends a part's tar; its upload keeps running in the background within the upload queue limit (`wait`: until
   * it and every earlier one finished). Throws the first failure.
   */
  async closePart(part: TarPart, opts: { wait?: boolean } = {}): Promise<void> {
    try {
      await part.writer.end();
    } catch (err) {
      throw this.error ?? err;
    } finally {
      this.open.delete(part);
    }
    this.uncompressedSize += part.contentSize;
    if (part.entries.length) this.tarFileSets.set(part.name, part.entries);
    log.info(`Finished writing part ${part.number} of backup ${this.backupName}.`);
    this.pending.push(part);
    const queue = opts.wait ? 0 : Math.max(0, this.opts.uploadQueue ?? 2);
    while (this.pending.length > queue) {
      const oldest = this.pending.shift()!;
      await oldest.upload.catch(() => {});
      if (this.error) throw this.error;
    }
  }

  /** Aborts every open part (their uploads fail and store nothing). */
  abort(err: Error): void { this.fail(err); }

  /** Waits for every upload; throws the first failure. */
  async awaitAll(): Promise<void> {
    for (const p of [...this.open]) await p.upload.catch(() => {});
    while (this.pending.length) await this.pending.shift()!.upload.catch(() => {});
    if (this.error) throw this.error;
  }
}

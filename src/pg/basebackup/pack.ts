// backup-push's packer: walked objects -> tar entries in parts (compat: bundle.go). Runs WALG_UPLOAD_DISK_CONCURRENCY
// lanes over one walk; per file it decides between skipped (unchanged since the delta parent), increment (changed
// paged file of a delta) and whole file, verifies page checksums on request, and records files_metadata.json.

import { open } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { CancelledError, LocalFileError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import type { ByteLimiter } from '../../core/rate-limit.ts';
import type { LendBuffer } from '../../pipeline/types.ts';
import type { TarHeaderInput } from '../../tar/header.ts';
import { FilesTable, localRfc3339Nano, parseRfc3339Ns } from '../files-metadata.ts';
import type { FileDescription } from '../files-metadata.ts';
import { PAGE_SIZE, PageVerifier, incrementChunks, incrementSize, isChecksummableFile, isPagedFile, planIncrement } from '../pagefile.ts';
import type { DeltaParent } from './delta.ts';
import { fileChunks, verifiedChunks } from './file-reader.ts';
import type { PartUploader, TarPart } from './part-uploader.ts';
import { headerFor, isMissing } from './walk.ts';
import type { WalkItem, WalkState } from './walk.ts';

/** compat: MaxCorruptBlocksInFileDesc. */
const MAX_CORRUPT_BLOCKS_IN_DESC = 10;

/** What the packer takes from backupPush's options. */
export interface PackOptions {
  /** WALG_TAR_SIZE_THRESHOLD: a part is closed once its file content exceeds this (default 2^30-1). */
  tarSizeThreshold?: number;
  /** WALG_UPLOAD_DISK_CONCURRENCY: parts filled in parallel (default 1). */
  diskConcurrency?: number;
  /** WALG_DISK_RATE_LIMIT: paces file reads. */
  diskLimiter?: ByteLimiter;
  delta?: DeltaParent;
  verifyPageChecksums?: boolean;
  storeAllCorruptBlocks?: boolean;
  signal?: AbortSignal;
  /** Where to draw a one-line progress indicator. */
  progress?: { write(s: string): unknown };
}

/** Counters shown by the progress line. */
interface Progress { read: number }

/**
 * Packs a walk into parts. `files` and `corruptFiles` are complete once packTree and packPgControl resolved.
 * `lend` is the compressor's buffer lending, if it has one (file chunks are then coded in place).
 */
export class Packer {
  /** files_metadata.json Files: entry name -> description (compact: the list of a million files must fit). */
  readonly files = new FilesTable();
  /** Human-readable "path (blocks ...)" of each file with corrupt pages, for the closing warning. */
  readonly corruptFiles: string[] = [];
  private readonly progress: Progress = { read: 0 };
  private readonly opts: PackOptions;
  private readonly parts: PartUploader;
  private readonly lend: LendBuffer | undefined;
  private readonly threshold: number;

  constructor(opts: PackOptions, parts: PartUploader, lend?: LendBuffer) {
    this.opts = opts;
    this.parts = parts;
    this.lend = lend;
    this.threshold = opts.tarSizeThreshold ?? 1073741823;
  }

  /** Starts the progress line (when opts.progress is set); returns the function that draws it a last time and stops. */
  startProgress(): () => void {
    const out = this.opts.progress;
    if (!out) return () => {};
    const t0 = Date.now();
    const mb = (n: number) => (n / 1048576).toFixed(1);
    const draw = () => {
      const s = Math.max(0.001, (Date.now() - t0) / 1000);
      out.write(`\r${mb(this.progress.read)} MiB read, ${mb(this.parts.compressedSize)} MiB uploaded, ${mb(this.progress.read / s)} MiB/s   `);
    };
    const timer = setInterval(draw, 1000);
    timer.unref();
    return () => { clearInterval(timer); draw(); out.write('\n'); };
  }

  /**
   * Packs every item of the walk into parts, diskConcurrency lanes at a time, and waits for every part's upload.
   * Throws the first failure (of any lane or upload); the other lanes stop at their next item.
   */
  async packTree(items: AsyncGenerator<WalkItem>): Promise<void> {
    const shared: { walkError?: Error } = {};
    const lanes = Math.max(1, this.opts.diskConcurrency ?? 1);
    const results = await Promise.allSettled(Array.from({ length: lanes }, () => this.lane(items, shared)));
    log.info('Packing ...');
    await this.parts.awaitAll().catch((err: Error) => { shared.walkError ??= err; });
    const firstFailure = shared.walkError ?? (results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined)?.reason;
    if (firstFailure) throw firstFailure;
  }

  /** One lane: takes items from the shared walk and fills its own part, closing it past the size threshold. */
  private async lane(items: AsyncGenerator<WalkItem>, shared: { walkError?: Error }): Promise<void> {
    const { parts, opts } = this;
    let part: TarPart | undefined;
    try {
      for (;;) {
        if (opts.signal?.aborted) throw new CancelledError('backup-push cancelled', { cause: opts.signal.reason });
        if (shared.walkError || parts.failure) return;
        const r = await items.next();
        if (r.done) break;
        const item = r.value;
        part ??= await parts.openPart();
        const header = await headerFor(item);
        if (item.kind !== 'file') {
          await part.writer.add(header);
          part.entries.push(item.name);
          this.files.set(item.name, describeFile(item));
          continue;
        }
        await this.packFile(part, item, header);
        if (part.contentSize > this.threshold) {
          const full = part;
          part = undefined;
          await parts.closePart(full);
        }
      }
      if (part) await parts.closePart(part);
    } catch (err) {
      shared.walkError ??= parts.failure ?? (err as Error);
      parts.abort(shared.walkError);
      throw shared.walkError;
    }
  }

  /** Adds one regular file to `part`: skipped, as an increment, or whole (see the file comment). */
  private async packFile(part: TarPart, item: WalkItem, header: TarHeaderInput): Promise<void> {
    const { opts } = this;
    const delta = opts.delta;
    if (delta && unchangedSinceParent(delta, item)) {
      this.files.set(item.name, { IsIncremented: false, IsSkipped: true, MTime: localRfc3339Nano(item.st.mtimeNs), UpdatesCount: 0 });
      return;
    }
    let fh;
    try {
      fh = await open(item.path, 'r');
    } catch (err) {
      if (isMissing(err)) { log.warn(`${item.path} does not exist, probably deleted during the backup creation`); return; }
      throw new LocalFileError(`startReadingFile: failed to open file '${item.path}': ${(err as Error).message}`, { cause: err });
    }
    try {
      const size = Number(item.st.size);
      const verifier = opts.verifyPageChecksums && isChecksummableFile(item.path, size) ? new PageVerifier(item.path) : undefined;
      if (verifier && size % PAGE_SIZE !== 0) {
        log.warn(`verifyFile: ${item.path} invalid file size ${size}. File copied without validation. The file may be corrupted.`);
      }
      const verify = verifier && size % PAGE_SIZE === 0 ? verifier : undefined;
      // compat: a file the parent had, now changed and paged, is stored as an increment of its newer pages.
      const incrementable = delta !== undefined && delta.files.has(item.name) && isPagedFile(item.path, size);
      const plan = incrementable ? await planIncrement(fh, size, delta.sentinel.LSN, opts.diskLimiter) : undefined;
      if (incrementable && !plan) log.warn(`failed to read file '${item.name}' as incremented`);
      part.entries.push(item.name);
      let stored: number;
      if (plan) {
        stored = incrementSize(plan.blocks.length);
        await part.writer.add({ ...header, size: stored }, incrementChunks(fh, plan, verify ? (pg, b, off) => verify.page(pg, b, off) : undefined, opts.diskLimiter));
      } else {
        stored = size;
        const chunks = fileChunks(fh, size, opts.diskLimiter, this.lend);
        await part.writer.add(header, verify ? verifiedChunks(chunks, verify) : chunks);
      }
      part.contentSize += stored;
      this.progress.read += plan ? plan.blocks.length * PAGE_SIZE : size;
      const desc = describeFile(item, plan !== undefined);
      if (verify) this.recordCorrupt(desc, item, verify.blocks);
      this.files.set(item.name, desc);
    } finally {
      await fh.close();
    }
  }

  private recordCorrupt(desc: FileDescription, item: WalkItem, blocks: number[]): void {
    if (blocks.length === 0) return;
    const sorted = [...blocks].sort((a, b) => a - b);
    desc.CorruptBlocks = {
      CorruptBlocksCount: sorted.length,
      SomeCorruptBlocks: this.opts.storeAllCorruptBlocks ? sorted : sorted.slice(0, MAX_CORRUPT_BLOCKS_IN_DESC),
    };
    this.corruptFiles.push(`${item.path} (blocks ${sorted.slice(0, MAX_CORRUPT_BLOCKS_IN_DESC).join(', ')}${sorted.length > MAX_CORRUPT_BLOCKS_IN_DESC ? ', ...' : ''})`);
  }

  /**
   * Packs pg_control alone into pg_control.tar, after every part is uploaded (§4.8), and waits for its upload.
   * compat: it is in no TarFileSets and not in Files.
   */
  async packPgControl(pgControl: NonNullable<WalkState['pgControl']>): Promise<void> {
    const pc = await this.parts.openPart('pg_control.tar');
    const pcItem: WalkItem = { kind: 'file', name: '/global/pg_control', path: pgControl.path, st: pgControl.st };
    const fh = await open(pcItem.path, 'r');
    try {
      await pc.writer.add(await headerFor(pcItem), fileChunks(fh, Number(pcItem.st.size), undefined, this.lend));
    } finally {
      await fh.close();
    }
    pc.contentSize += Number(pcItem.st.size);
    log.info('/global/pg_control');
    await this.parts.closePart(pc, { wait: true });
    this.parts.tarFileSets.delete(pc.name);
  }
}

function describeFile(item: { st: BigIntStats }, incremented = false): FileDescription {
  return { IsIncremented: incremented, IsSkipped: false, MTime: localRfc3339Nano(item.st.mtimeNs), UpdatesCount: 0 };
}

/** compat: bundle.go — a file the parent has with the very same mtime is not stored at all. */
function unchangedSinceParent(delta: DeltaParent, item: WalkItem): boolean {
  const mtime = delta.files.mtime(item.name);
  return mtime !== undefined && parseRfc3339Ns(mtime) === item.st.mtimeNs;
}

// PostgreSQL data pages for delta backups and checksum verification (walg-format.md §4.2, §4.3, §4.7): the page
// header, which files are "paged", the page checksum (PostgreSQL's FNV-1a variant), and WAL-G's increment blob
// ('wi1' 0x55 | file size | N | N block numbers | N pages) with a streaming writer and an in-place applier.

import type { FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { CorruptObjectError, LocalFileError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import type { ByteLimiter } from '../core/rate-limit.ts';
import type { Lsn } from './lsn.ts';

/** BLCKSZ: WAL-G supports only the default 8 KiB page (WALG_PG_BLOCK_SIZE other than 8192 is refused upstream). */
export const PAGE_SIZE = 8192;
/** RELSEG_SIZE in blocks: a relation segment file `.N` starts at block N × 131072 (1 GiB / 8 KiB). */
export const BLOCKS_PER_SEGMENT = 131072;
/** SizeOfPageHeaderData. */
const PAGE_HEADER_SIZE = 24;
/** PD_VALID_FLAG_BITS: PD_HAS_FREE_LINES | PD_PAGE_FULL | PD_ALL_VISIBLE. */
const VALID_FLAGS = 0x7;
/** Highest page layout version WAL-G accepts (PG_PAGE_LAYOUT_VERSION is 4; 5 covers 64-bit-xid forks). */
const MAX_LAYOUT_VERSION = 5;

/** compat: the increment blob's first 4 bytes: "wi" (WAL-G increment), format '1', signature 0x55. */
export const INCREMENT_MAGIC = Buffer.from([0x77, 0x69, 0x31, 0x55]);
/** Bytes before the block list: magic, uint64 file size, uint32 count. */
const INCREMENT_FIXED = 16;

/** The first 24 bytes of a page, decoded (all fields little-endian, as on x86/ARM PostgreSQL). */
export interface PageHeader {
  lsn: Lsn;
  checksum: number;
  flags: number;
  lower: number;
  upper: number;
  special: number;
  pageSizeVersion: number;
}

/** Decodes the header of the page starting at `off` in `buf` (which must hold at least 24 bytes there). */
export function parsePageHeader(buf: Buffer, off = 0): PageHeader {
  // pd_lsn is PageXLogRecPtr {xlogid, xrecoff}: the high word comes first.
  const hi = buf.readUInt32LE(off);
  const lo = buf.readUInt32LE(off + 4);
  return {
    lsn: (BigInt(hi) << 32n) | BigInt(lo),
    checksum: buf.readUInt16LE(off + 8),
    flags: buf.readUInt16LE(off + 10),
    lower: buf.readUInt16LE(off + 12),
    upper: buf.readUInt16LE(off + 14),
    special: buf.readUInt16LE(off + 16),
    pageSizeVersion: buf.readUInt16LE(off + 18),
  };
}

/** PageIsNew: pd_upper == 0 (an all-zero, never-initialised page). */
export function isNewPage(h: PageHeader): boolean {
  return h.upper === 0;
}

/** compat: WAL-G's PageHeader.isValid — sane bounds, known flags, a non-zero LSN, 8 KiB page size, layout <= 5. */
export function isValidPage(h: PageHeader): boolean {
  return (h.flags & VALID_FLAGS) === h.flags &&
    h.lower >= PAGE_HEADER_SIZE && h.lower <= h.upper && h.upper <= h.special && h.special <= PAGE_SIZE &&
    h.lsn !== 0n &&
    (h.pageSizeVersion & 0xff00) === PAGE_SIZE &&
    (h.pageSizeVersion & 0xff) <= MAX_LAYOUT_VERSION;
}

const PAGED_NAME = /^\d+(\.\d+)?$/;
const TRANSACTION_STATE_DIRS = ['pg_xact', 'pg_clog', 'pg_multixact'];

/**
 * compat: pagefile.go isPagedFile. `path` is the absolute path on disk (WAL-G tests substrings of it, so a data
 * directory whose path contains "base" makes global/ relations paged too: harmless, and kept for identical
 * increments). Relation main-fork segments only (`_fsm`, `_vm`, `_init` forks are copied whole).
 */
export function isPagedFile(path: string, size: number): boolean {
  if (TRANSACTION_STATE_DIRS.some((d) => path.includes(d))) return false;
  return (path.includes('base') || path.includes('pg_tblspc')) && size > 0 && size % PAGE_SIZE === 0 && PAGED_NAME.test(basename(path));
}

/** compat: pagefile.go isChecksumValidatableFile — like isPagedFile but any size, and pg_internal.init never. */
export function isChecksummableFile(path: string, size: number): boolean {
  const name = basename(path);
  if (name === 'pg_internal.init') return false;
  return (path.includes('base') || path.includes('pg_tblspc')) && size > 0 && PAGED_NAME.test(name);
}

/** Segment number `N` of a relation file named `<relfilenode>.N` (0 for the first segment). */
export function relationSegmentNumber(path: string): number {
  const m = /\.(\d+)$/.exec(basename(path));
  return m ? Number(m[1]) : 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Page checksum (PostgreSQL src/include/storage/checksum_impl.h)

const N_SUMS = 32;
const FNV_PRIME = 16777619;
/** PostgreSQL's checksumBaseOffsets: a different starting state for each of the 32 parallel hashes. */
const BASE_OFFSETS = Uint32Array.from([
  0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2, 0x83E13D2C,
  0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C, 0xF718902A, 0x0B1C9CDB,
  0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979, 0xCCA6C0B2, 0x304A0979, 0x85AA43D4,
  0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E, 0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756,
]);
const sums = new Uint32Array(N_SUMS);

/**
 * pg_checksum_page: the 16-bit checksum of the 8 KiB page at `off` in `page` for absolute block number `blkno`,
 * computed as if pd_checksum were zero (the buffer is not modified). Never returns 0.
 */
export function pageChecksum(page: Buffer, blkno: number, off = 0): number {
  sums.set(BASE_OFFSETS);
  const words = PAGE_SIZE / 4;
  for (let i = 0; i < words; i += N_SUMS) {
    for (let j = 0; j < N_SUMS; j++) {
      const at = off + (i + j) * 4;
      // Word 2 holds pd_checksum (bytes 8-9) and pd_flags (bytes 10-11): hash it with the checksum zeroed.
      const value = i + j === 2 ? page.readUInt16LE(at + 2) << 16 : page.readUInt32LE(at);
      const tmp = (sums[j]! ^ value) >>> 0;
      sums[j] = (Math.imul(tmp, FNV_PRIME) ^ (tmp >>> 17)) >>> 0;
    }
  }
  for (let round = 0; round < 2; round++) {
    for (let j = 0; j < N_SUMS; j++) {
      const tmp = sums[j]!;
      sums[j] = (Math.imul(tmp, FNV_PRIME) ^ (tmp >>> 17)) >>> 0;
    }
  }
  let result = 0;
  for (let j = 0; j < N_SUMS; j++) result = (result ^ sums[j]!) >>> 0;
  result = (result ^ blkno) >>> 0;
  return (result % 65535) + 1;
}

/**
 * compat: paged_file_verifier.go isPageCorrupted — true only for an initialised, valid page that carries a checksum
 * which does not match. New pages, invalid headers and pd_checksum 0 pass.
 */
export function isPageCorrupt(page: Buffer, absoluteBlock: number, off = 0): boolean {
  return checkPage(page, absoluteBlock, off).status === 'corrupt';
}

/** Outcome of checking one page: its stored and recomputed checksums when it was checked. */
type PageCheck =
  | { status: 'unchecked' | 'invalid' }
  | { status: 'ok' | 'corrupt'; stored: number; computed: number };

/** The one place that decides whether a page is checked and whether it passes (see isPageCorrupt). */
function checkPage(page: Buffer, absoluteBlock: number, off: number): PageCheck {
  const h = parsePageHeader(page, off);
  if (isNewPage(h) || h.checksum === 0) return { status: 'unchecked' };
  if (!isValidPage(h)) return { status: 'invalid' };
  const computed = pageChecksum(page, absoluteBlock, off);
  return { status: computed === h.checksum ? 'ok' : 'corrupt', stored: h.checksum, computed };
}

/**
 * Collects the corrupt blocks of a paged file as its pages stream by (full copies or increment pages). Feed pages in
 * order with their block numbers within the file; `blocks` holds the block numbers (relative to the file, as WAL-G
 * records them) of corrupt pages.
 */
export class PageVerifier {
  readonly blocks: number[] = [];
  private readonly path: string;
  private readonly segmentBase: number;
  constructor(path: string) {
    this.path = path;
    this.segmentBase = relationSegmentNumber(path) * BLOCKS_PER_SEGMENT;
  }
  page(buf: Buffer, blockNo: number, off = 0): void {
    const r = checkPage(buf, this.segmentBase + blockNo, off);
    if (r.status === 'invalid') log.warn(`Invalid page header encountered: blockNo ${blockNo}, path ${this.path}`);
    if (r.status !== 'corrupt') return;
    // compat: WAL-G's warning text (paged_file_verifier.go isPageCorrupted).
    log.warn(`Corruption found in ${this.path}/[${blockNo}], expected ${r.stored.toString(16)}, found ${r.computed.toString(16)}`);
    this.blocks.push(blockNo);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Increments


/** The pages of a file that a delta backup stores, or `undefined` when some page is neither new nor valid. */
export interface IncrementPlan {
  fileSize: number;
  blocks: number[];
}

const SCAN_CHUNK = 128 * PAGE_SIZE;

/**
 * Full-scan selection (compat: incremental_page_reader.go FullScanInitialize/SelectNewValidPage): reads the first
 * `fileSize` bytes of `fh` page by page and keeps every new page and every valid page whose pd_lsn >= deltaLsn.
 * Returns undefined when a page is invalid (the caller then copies the whole file). A file that shrank while being
 * read ends the scan at the last whole page. Memory: one 1 MiB buffer and the block list.
 */
export async function planIncrement(fh: FileHandle, fileSize: number, deltaLsn: Lsn, limiter?: ByteLimiter): Promise<IncrementPlan | undefined> {
  const blocks: number[] = [];
  const buf = Buffer.allocUnsafe(SCAN_CHUNK);
  const pages = Math.floor(fileSize / PAGE_SIZE);
  for (let first = 0; first < pages;) {
    const want = Math.min(pages - first, SCAN_CHUNK / PAGE_SIZE) * PAGE_SIZE;
    if (limiter) await limiter.take(want);
    const { bytesRead } = await fh.read(buf, 0, want, first * PAGE_SIZE);
    const got = Math.floor(bytesRead / PAGE_SIZE);
    for (let i = 0; i < got; i++) {
      const h = parsePageHeader(buf, i * PAGE_SIZE);
      if (isNewPage(h)) { blocks.push(first + i); continue; }
      if (!isValidPage(h)) return undefined;
      if (h.lsn >= deltaLsn) blocks.push(first + i);
    }
    if (got * PAGE_SIZE < want) break; // shrank under us: WAL replay recreates what is missing
    first += got;
  }
  return { fileSize, blocks };
}

/** Size of the increment blob for `n` pages: 16 + 4n + 8192n. */
export function incrementSize(n: number): number {
  return INCREMENT_FIXED + 4 * n + PAGE_SIZE * n;
}

/** The blob's header: magic, uint64 file size, uint32 count, the block numbers. */
export function encodeIncrementHeader(plan: IncrementPlan): Buffer {
  const head = Buffer.alloc(INCREMENT_FIXED + 4 * plan.blocks.length);
  INCREMENT_MAGIC.copy(head, 0);
  head.writeBigUInt64LE(BigInt(plan.fileSize), 4);
  head.writeUInt32LE(plan.blocks.length, 12);
  plan.blocks.forEach((b, i) => head.writeUInt32LE(b, INCREMENT_FIXED + 4 * i));
  return head;
}

/**
 * Streams the increment blob of `plan` from `fh`: the header, then each listed page re-read now (a page that
 * changed since the scan is newer still, which WAL replay tolerates; a page gone with a truncation reads as zeros,
 * a new page). `onPage` sees every page with its block number (checksum verification). Yields chunks of at most
 * 128 pages, so memory stays bounded whatever the file size.
 */
export async function* incrementChunks(fh: FileHandle, plan: IncrementPlan, onPage?: (page: Buffer, blockNo: number, off: number) => void, limiter?: ByteLimiter): AsyncGenerator<Buffer> {
  yield encodeIncrementHeader(plan);
  const per = SCAN_CHUNK / PAGE_SIZE;
  for (let i = 0; i < plan.blocks.length; i += per) {
    const group = plan.blocks.slice(i, i + per);
    const out = Buffer.alloc(group.length * PAGE_SIZE);
    if (limiter) await limiter.take(out.length);
    // Runs of consecutive blocks are read with one call.
    for (let j = 0; j < group.length;) {
      let k = j + 1;
      while (k < group.length && group[k] === group[k - 1]! + 1) k++;
      await fh.read(out, j * PAGE_SIZE, (k - j) * PAGE_SIZE, group[j]! * PAGE_SIZE);
      j = k;
    }
    if (onPage) group.forEach((b, j) => onPage(out, b, j * PAGE_SIZE));
    yield out;
  }
}

/** Thrown when an increment blob is malformed (compat: "Invalid increment file header" and friends). */
function badIncrement(name: string, why: string): CorruptObjectError {
  return new CorruptObjectError(`failed to apply increment for '${name}': ${why}`);
}

/** Pulls exactly `n` bytes from a chunk iterator, keeping the rest for the next call. */
class ChunkReader {
  private readonly it: AsyncIterator<Buffer>;
  private pending: Buffer = Buffer.alloc(0);
  constructor(chunks: AsyncIterable<Buffer>) { this.it = chunks[Symbol.asyncIterator](); }
  async exact(n: number): Promise<Buffer | undefined> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      if (this.pending.length === 0) {
        const r = await this.it.next();
        if (r.done) return undefined;
        this.pending = r.value;
        continue;
      }
      const take = Math.min(n - have, this.pending.length);
      parts.push(this.pending.subarray(0, take));
      this.pending = this.pending.subarray(take);
      have += take;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }
  async atEnd(): Promise<boolean> {
    while (this.pending.length === 0) {
      const r = await this.it.next();
      if (r.done) return true;
      this.pending = r.value;
    }
    return false;
  }
}

/**
 * Applies an increment blob (streamed as `chunks`) to the open file `fh` in place (compat: ApplyFileIncrement):
 * truncates it to the recorded size, then writes each page at blockNo × 8192. Throws CorruptObjectError on a bad
 * magic, unknown format version, short blob or trailing bytes. `name` labels errors.
 */
export async function applyIncrement(fh: FileHandle, chunks: AsyncIterable<Buffer>, name: string): Promise<{ fileSize: number; pages: number }> {
  const r = new ChunkReader(chunks);
  const fixed = await r.exact(INCREMENT_FIXED);
  if (!fixed) throw badIncrement(name, 'the increment is shorter than its header');
  if (fixed[0] !== INCREMENT_MAGIC[0] || fixed[1] !== INCREMENT_MAGIC[1] || fixed[3] !== INCREMENT_MAGIC[3]) {
    throw badIncrement(name, 'Invalid increment file header');
  }
  if (fixed[2] !== INCREMENT_MAGIC[2]) throw badIncrement(name, 'Unknown increment file header');
  const fileSize = fixed.readBigUInt64LE(4);
  if (fileSize > BigInt(Number.MAX_SAFE_INTEGER)) throw badIncrement(name, `file size ${fileSize} is out of range`);
  const count = fixed.readUInt32LE(12);
  // The block list is read in bounded slices so a corrupt count cannot allocate gigabytes up front.
  const blocks: number[] = [];
  for (let left = count; left > 0;) {
    const n = Math.min(left, 65536);
    const list = await r.exact(4 * n);
    if (!list) throw badIncrement(name, 'the block list is truncated');
    for (let i = 0; i < n; i++) blocks.push(list.readUInt32LE(4 * i));
    left -= n;
  }
  try {
    await fh.truncate(Number(fileSize));
  } catch (err) {
    throw new LocalFileError(`failed to truncate '${name}' to ${fileSize} bytes: ${(err as Error).message}`, { cause: err });
  }
  for (const blockNo of blocks) {
    // The blocks were scanned in a file of fileSize bytes: one past its end is corruption, not a page to write
    // (found by the increment fuzz target: a wild block number made the write fail with EFBIG).
    if ((blockNo + 1) * PAGE_SIZE > Number(fileSize)) throw badIncrement(name, `block ${blockNo} lies beyond the file size ${fileSize}`);
    const page = await r.exact(PAGE_SIZE);
    if (!page) throw badIncrement(name, `the increment ends before the page of block ${blockNo}`);
    let off = 0;
    while (off < PAGE_SIZE) {
      let written: number;
      try {
        ({ bytesWritten: written } = await fh.write(page, off, PAGE_SIZE - off, blockNo * PAGE_SIZE + off));
      } catch (err) {
        throw new LocalFileError(`failed to write block ${blockNo} of '${name}': ${(err as Error).message}`, { cause: err });
      }
      off += written;
    }
  }
  if (!(await r.atEnd())) throw badIncrement(name, 'Expected end of Tar');
  return { fileSize: Number(fileSize), pages: blocks.length };
}

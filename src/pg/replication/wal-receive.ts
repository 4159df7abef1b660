// wal-receive (walg-format.md §3 `.partial`, features §1.2): WAL streamed from a physical replication slot, each
// completed segment stored as wal-push stores it, and the flush position confirmed to the server only after the
// object is durable, so the slot never lets the server drop WAL we do not have. Timeline switches of the upstream
// end the stream with CopyDone: the unfinished segment is stored as `.partial`, the new history file is stored, and
// streaming resumes on the new timeline. A stop (SIGINT/SIGTERM) stores the current segment as `.partial` too.

import { Readable } from 'node:stream';
import { WalgError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { WAL_PATH } from '../../backup/layout.ts';
import { encodeStages, through, withExtension } from '../../pipeline/pipeline.ts';
import type { DataPipeline } from '../../pipeline/pipeline.ts';
import type { Storage } from '../../storage/types.ts';
import { formatLsn, parseLsn } from '../lsn.ts';
import type { Lsn } from '../lsn.ts';
import { formatWalName } from '../wal-name.ts';
import { ReplicationConnection, ServerError } from './connection.ts';
import type { ReplicationSettings } from './connection.ts';
import { copyDataMessage, frontend, parseNotice, queryMessage, sizeSetting } from './wire.ts';

/** The stream broke its own rules (a gap, data outside the segment). */
export class WalStreamError extends WalgError {
  override readonly code = 'WAL_STREAM';
}

/** Options of walReceive. */
export interface WalReceiveOptions {
  storage: Storage;
  pipeline: DataPipeline;
  connection: ReplicationSettings;
  /** WALG_SLOTNAME (default walg). */
  slotName: string;
  /** Stops streaming; the current segment is then stored as `.partial`. */
  signal?: AbortSignal;
  /** Status update interval (compat: StandbyMessageTimeout, 10 s). */
  statusIntervalMs?: number;
}

/** PostgreSQL's epoch (2000-01-01) in Unix milliseconds, for the status update clock. */
const PG_EPOCH_MS = 946684800000;

/** compat: WAL-G accepts only [0-9A-Za-z_] in WALG_SLOTNAME. */
export function checkSlotName(name: string): string {
  if (!/^[0-9A-Za-z_]+$/.test(name)) throw new WalgError(`Incorrect slot name '${name}': only [0-9A-Za-z_] are allowed`);
  return name;
}

/** The timeline an LSN belongs to by a history file's text (switch points ascending); `current` past the last. */
export function timelineOfLsn(history: string, lsn: Lsn, current: number): number {
  for (const line of history.split('\n')) {
    const m = /^\s*(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(line);
    if (m && lsn < parseLsn(m[2]!)) return Number(m[1]);
  }
  return current;
}

/** One segment being filled from the stream. */
class Segment {
  readonly timeline: number;
  readonly start: Lsn;
  readonly size: number;
  readonly data: Buffer;
  written = 0;

  constructor(timeline: number, lsn: Lsn, size: number) {
    this.timeline = timeline;
    this.size = size;
    this.start = lsn - (lsn % BigInt(size));
    this.data = Buffer.alloc(size);
  }

  get end(): Lsn { return this.start + BigInt(this.size); }
  get complete(): boolean { return this.written >= this.size; }
  get name(): string {
    const n = formatWalName(this.timeline, Number(this.start / BigInt(this.size)), this.size);
    return this.complete ? n : `${n}.partial`;
  }

  /** Copies what of `data` (starting at `at`) falls into this segment; returns the bytes taken from `data`. */
  take(at: Lsn, data: Buffer): number {
    const end = at + BigInt(data.length);
    if (end <= this.start) return data.length; // before the segment: already stored
    const skip = at < this.start ? Number(this.start - at) : 0;
    if (at + BigInt(skip) !== this.start + BigInt(this.written)) {
      throw new WalStreamError(`WAL segment error: data at ${formatLsn(at)} does not follow ${formatLsn(this.start + BigInt(this.written))}`);
    }
    const n = data.copy(this.data, this.written, skip);
    this.written += n;
    return skip + n;
  }
}

/**
 * Streams WAL until the signal aborts (then resolves after storing the `.partial` segment) or the connection
 * fails (rejects: PostgresError, WalStreamError, StorageError). A restart resumes at the slot's restart_lsn, the
 * start of the first segment not yet stored.
 */
export async function walReceive(opts: WalReceiveOptions): Promise<void> {
  checkSlotName(opts.slotName); // it is spliced into replication commands
  const conn = await ReplicationConnection.open(opts.connection, 'database');
  const onAbort = () => conn.destroy();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let segment: Segment | undefined;
  try {
    const seg = await conn.query('SHOW wal_segment_size');
    const segmentSize = sizeSetting(seg[0]?.rows[0]?.[0] ?? '16MB');
    const ident = (await conn.query('IDENTIFY_SYSTEM'))[0]?.rows[0] ?? [];
    const systemTimeline = Number(ident[1]);
    const slot = (await conn.query(`SELECT restart_lsn::text FROM pg_catalog.pg_replication_slots WHERE slot_name = '${opts.slotName}' AND slot_type = 'physical'`))[0]?.rows;
    let pos: Lsn;
    if (slot?.length) {
      pos = slot[0]![0] ? parseLsn(slot[0]![0]) : parseLsn(ident[2]!);
      log.info(`Streaming from slot ${opts.slotName} at ${formatLsn(pos)}`);
    } else {
      log.info('Trying to create the replication slot');
      await conn.query(`CREATE_REPLICATION_SLOT ${opts.slotName} PHYSICAL RESERVE_WAL`);
      pos = parseLsn(ident[2]!);
    }
    let timeline = 1;
    if (systemTimeline >= 2) {
      const history = await timelineHistory(conn, systemTimeline);
      await storeObject(opts, history.name, history.content);
      timeline = timelineOfLsn(history.content.toString('utf8'), pos, systemTimeline);
    }
    for (;;) {
      segment = new Segment(timeline, pos, segmentSize);
      const next = await streamTimeline(conn, opts, segment, (s) => { segment = s; });
      if (!next) return;
      // The upstream switched timelines: the old timeline's last segment is stored as it is (`.partial`).
      if (segment.written > 0) await storeSegment(opts, segment);
      const history = await timelineHistory(conn, next.timeline);
      await storeObject(opts, history.name, history.content);
      log.info(`Timeline ${segment.timeline} ended at ${formatLsn(next.start)}; following timeline ${next.timeline}`);
      timeline = next.timeline;
      pos = segment.start;
      segment = undefined;
    }
  } catch (err) {
    if (opts.signal?.aborted) return;
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    conn.destroy();
    if (opts.signal?.aborted && segment && segment.written > 0 && !segment.complete) {
      log.info(`Stopping: storing ${segment.name}`);
      await storeSegment({ ...opts, signal: undefined }, segment);
    }
  }
}

/**
 * START_REPLICATION on one timeline. Returns the next timeline and its start when the server ends this one, or
 * undefined when the signal aborted. `onSegment` learns each new segment (for the `.partial` on stop).
 */
async function streamTimeline(conn: ReplicationConnection, opts: WalReceiveOptions, first: Segment, onSegment: (s: Segment) => void): Promise<{ timeline: number; start: Lsn } | undefined> {
  conn.write(queryMessage(`START_REPLICATION SLOT ${opts.slotName} PHYSICAL ${formatLsn(first.start)} TIMELINE ${first.timeline}`));
  const answer = await conn.next();
  if (answer.type === 'E') { await drain(conn); throw new ServerError(parseNotice(answer.body)); }
  if (answer.type !== 'W') throw new WalStreamError(`START_REPLICATION: expected CopyBothResponse, got '${answer.type}'`);
  let segment = first;
  let received = first.start;
  let flushed = first.start; // everything before this is stored
  let lastStatus = 0;
  const interval = opts.statusIntervalMs ?? 10_000;
  const status = () => {
    const b = Buffer.alloc(34);
    b[0] = 0x72; // 'r'
    b.writeBigUInt64BE(received, 1);
    b.writeBigUInt64BE(flushed, 9);
    b.writeBigUInt64BE(flushed, 17);
    b.writeBigInt64BE(BigInt(Date.now() - PG_EPOCH_MS) * 1000n, 25);
    conn.write(copyDataMessage(b));
    lastStatus = Date.now();
  };
  status();
  const timer = setInterval(() => { if (Date.now() - lastStatus >= interval) status(); }, Math.min(interval, 1000));
  try {
    for (;;) {
      if (opts.signal?.aborted) return undefined;
      const m = await conn.next();
      if (m.type === 'c') break; // the timeline ended
      if (m.type === 'E') throw new ServerError(parseNotice(m.body));
      if (m.type !== 'd') throw new WalStreamError(`replication: unexpected message '${m.type}'`);
      const tag = m.body[0];
      if (tag === 0x6b) { // 'k' keepalive
        if (m.body[17] === 1) status();
        continue;
      }
      if (tag !== 0x77) continue; // only 'w' XLogData carries WAL
      let at = m.body.readBigUInt64BE(1);
      let data = m.body.subarray(25);
      while (data.length) {
        const n = segment.take(at, data);
        at += BigInt(n);
        data = data.subarray(n);
        if (at > received) received = at;
        if (segment.complete) {
          await storeSegment(opts, segment);
          flushed = segment.end;
          status();
          segment = new Segment(segment.timeline, segment.end, segment.size);
          onSegment(segment);
        }
      }
    }
  } finally {
    clearInterval(timer);
  }
  conn.write(frontend('c'));
  // compat: after CopyDone the server names the next timeline and where it starts, then completes the command.
  const sets = await conn.readResults();
  const row = sets.find((s) => s.rows.length)?.rows[0];
  if (!row) throw new WalStreamError('replication ended without naming the next timeline');
  onSegment(segment);
  return { timeline: Number(row[0]), start: parseLsn(row[1]!) };
}

async function drain(conn: ReplicationConnection): Promise<void> {
  for (;;) { const m = await conn.next().catch(() => undefined); if (!m || m.type === 'Z') return; }
}

/** TIMELINE_HISTORY: the file's name and content. */
async function timelineHistory(conn: ReplicationConnection, tli: number): Promise<{ name: string; content: Buffer }> {
  const sets = await conn.query(`TIMELINE_HISTORY ${tli}`);
  const row = sets[0]?.rows[0];
  if (!row?.[0]) throw new WalStreamError(`TIMELINE_HISTORY ${tli}: no file in the answer`);
  return { name: row[0], content: Buffer.from(row[1] ?? '', 'utf8') };
}

async function storeSegment(opts: WalReceiveOptions, s: Segment): Promise<void> {
  await storeObject(opts, s.name, s.data);
  log.info(`Stored ${s.name}`);
}

/** Stores one WAL-archive object as wal-push does (compress, encrypt, an atomic put under wal_005/). */
async function storeObject(opts: Pick<WalReceiveOptions, 'storage' | 'pipeline' | 'signal'>, name: string, body: Buffer): Promise<void> {
  const key = `${WAL_PATH}${withExtension(name, opts.pipeline.compressor)}`;
  await opts.storage.put(key, () => through(Readable.from([body]), encodeStages(opts.pipeline)), { signal: opts.signal });
}

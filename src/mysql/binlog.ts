// Binary log vocabulary: file names and their numeric order, storage keys under binlog_005/, the first event of a
// binlog file (its timestamp) and the GTID state it starts from (MariaDB GTID_LIST, MySQL PREVIOUS_GTIDS), and the
// two GTID set flavours with the containment test WAL-G uses to pick a backup's BinLogStart.

import { CorruptObjectError } from '../core/errors.ts';
import { KNOWN_EXTENSIONS } from '../pipeline/compress/index.ts';

/** compat: `~/.walg_mysql_binlogs_cache`, JSON {"LastArchivedBinlog": "<name>"}. */
export const BINLOG_CACHE_FILE = '.walg_mysql_binlogs_cache';
/** compat: WAL-G parses at most this many bytes of an archived binlog to find its previous-GTIDs event. */
export const BINLOG_HEADER_READ = 128 * 1024;

const BINLOG_MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
const EVENT_HEADER = 19;
const FORMAT_DESCRIPTION_EVENT = 15;
const PREVIOUS_GTIDS_EVENT = 35;
const MARIADB_GTID_LIST_EVENT = 163;

/**
 * compat: binlog names are `<prefix>.<number>`; the number after the last '.' orders them (foo.999999 < foo.1000000).
 * Throws CorruptObjectError for a name without one.
 */
export function binlogNum(name: string): number {
  const p = name.lastIndexOf('.');
  const digits = p < 0 ? '' : name.slice(p + 1);
  if (!/^\d+$/.test(digits)) throw new CorruptObjectError(`unexpected binlog name: ${name}`);
  return Number(digits);
}

/** The part of a binlog name before the last '.'. */
export function binlogPrefix(name: string): string {
  const p = name.lastIndexOf('.');
  if (p < 0) throw new CorruptObjectError(`unexpected binlog name: ${name}`);
  return name.slice(0, p);
}

/**
 * The binlog name of an object under binlog_005/ (base name, compression extension removed). Only extensions a
 * codec owns are stripped: with `none` compression the object is `mysql-bin.000123` and WAL-G's TrimFileExtension
 * would cut the number off.
 */
export function binlogNameOfObject(key: string): string {
  const base = key.slice(key.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  if (dot > 0 && KNOWN_EXTENSIONS.includes(base.slice(dot + 1))) return base.slice(0, dot);
  return base;
}

/** Extension (no dot) of an archived binlog object, '' when it has none a codec owns. */
export function binlogObjectExtension(key: string): string {
  const base = key.slice(key.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 && KNOWN_EXTENSIONS.includes(base.slice(dot + 1)) ? base.slice(dot + 1) : '';
}

// ---------------------------------------------------------------------------------------------------------------
// GTID sets

/** A GTID set of either flavour; `contains(other)` is "every transaction of other is in this". */
export interface GtidSet {
  readonly flavor: 'mariadb' | 'mysql';
  contains(other: GtidSet): boolean;
  toString(): string;
}

/** MariaDB: per replication domain, the last sequence number (and the server that wrote it). */
export class MariadbGtidSet implements GtidSet {
  readonly flavor = 'mariadb' as const;
  /** domain id -> { server id, sequence number }. */
  readonly domains: Map<number, { server: number; seq: bigint }>;
  constructor(domains: Map<number, { server: number; seq: bigint }> = new Map()) { this.domains = domains; }

  /** Parses "0-1-5,1-2-3" (empty string = empty set). Throws CorruptObjectError on anything else. */
  static parse(s: string): MariadbGtidSet {
    const set = new MariadbGtidSet();
    for (const part of s.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
      const m = /^(\d+)-(\d+)-(\d+)$/.exec(part);
      if (!m) throw new CorruptObjectError(`invalid MariaDB GTID '${part}'`);
      set.add(Number(m[1]), Number(m[2]), BigInt(m[3]!));
    }
    return set;
  }

  /** Adds a GTID, keeping the highest sequence number per domain. */
  add(domain: number, server: number, seq: bigint): void {
    const cur = this.domains.get(domain);
    if (!cur || cur.seq < seq) this.domains.set(domain, { server, seq });
  }

  /** Every domain of `other` is here with a sequence number at least as high (MariaDB numbers each domain in order). */
  contains(other: GtidSet): boolean {
    if (!(other instanceof MariadbGtidSet)) return false;
    for (const [domain, g] of other.domains) {
      const mine = this.domains.get(domain);
      if (!mine || mine.seq < g.seq) return false;
    }
    return true;
  }

  toString(): string {
    return [...this.domains.entries()].sort((a, b) => a[0] - b[0]).map(([d, g]) => `${d}-${g.server}-${g.seq}`).join(',');
  }
}

/** MySQL: per server UUID, a list of half-open intervals [start, end) of transaction numbers. */
export class MysqlGtidSet implements GtidSet {
  readonly flavor = 'mysql' as const;
  readonly sids: Map<string, Array<[bigint, bigint]>>;
  constructor(sids: Map<string, Array<[bigint, bigint]>> = new Map()) { this.sids = sids; }

  /** Parses "uuid:1-5:7,uuid2:3" (intervals inclusive in text). Throws CorruptObjectError on anything else. */
  static parse(s: string): MysqlGtidSet {
    const set = new MysqlGtidSet();
    for (const part of s.replace(/\s+/g, '').split(',').filter((p) => p !== '')) {
      const [uuid, ...ranges] = part.split(':');
      if (!uuid || !/^[0-9a-fA-F-]{32,36}$/.test(uuid) || ranges.length === 0) throw new CorruptObjectError(`invalid MySQL GTID set '${part}'`);
      for (const r of ranges) {
        const m = /^(\d+)(?:-(\d+))?$/.exec(r);
        if (!m) throw new CorruptObjectError(`invalid MySQL GTID interval '${r}'`);
        const start = BigInt(m[1]!);
        const end = m[2] === undefined ? start : BigInt(m[2]);
        set.add(uuid, start, end + 1n);
      }
    }
    return set;
  }

  /** Adds [start, end) for a server UUID, merging overlapping and adjacent intervals. */
  add(uuid: string, start: bigint, end: bigint): void {
    const key = uuid.toLowerCase().replace(/-/g, '');
    const list = [...(this.sids.get(key) ?? []), [start, end] as [bigint, bigint]].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const merged: Array<[bigint, bigint]> = [];
    for (const iv of list) {
      const last = merged.at(-1);
      if (last && iv[0] <= last[1]) last[1] = iv[1] > last[1] ? iv[1] : last[1];
      else merged.push([iv[0], iv[1]]);
    }
    this.sids.set(key, merged);
  }

  contains(other: GtidSet): boolean {
    if (!(other instanceof MysqlGtidSet)) return false;
    for (const [sid, ivs] of other.sids) {
      const mine = this.sids.get(sid) ?? [];
      for (const [s, e] of ivs) {
        if (s >= e) continue;
        if (!mine.some(([ms, me]) => ms <= s && e <= me)) return false;
      }
    }
    return true;
  }

  toString(): string {
    const uuid = (k: string) => `${k.slice(0, 8)}-${k.slice(8, 12)}-${k.slice(12, 16)}-${k.slice(16, 20)}-${k.slice(20)}`;
    return [...this.sids.entries()].map(([k, ivs]) => `${uuid(k)}:${ivs.map(([s, e]) => (e - 1n === s ? `${s}` : `${s}-${e - 1n}`)).join(':')}`).join(',');
  }
}

/** Parses a GTID set in the given flavour. */
export function parseGtidSet(flavor: 'mariadb' | 'mysql', s: string): GtidSet {
  return flavor === 'mariadb' ? MariadbGtidSet.parse(s) : MysqlGtidSet.parse(s);
}

// ---------------------------------------------------------------------------------------------------------------
// Binlog file header

/** What the start of a binlog file tells: its first event's timestamp and the GTID state it starts from. */
export interface BinlogHead {
  /** Timestamp of the first event (the format description event: when the file was opened). */
  startTime: Date;
  /** GTID_LIST (MariaDB) or PREVIOUS_GTIDS (MySQL) of the file; undefined when not within the bytes given. */
  previousGtids?: GtidSet;
}

/**
 * Parses the beginning of a binlog file (`head` = its first bytes, e.g. BINLOG_HEADER_READ of them). Events are
 * read in order up to the first GTID_LIST / PREVIOUS_GTIDS event or the end of `head`. Throws CorruptObjectError
 * when the magic is wrong or not even the first event is complete.
 */
export function parseBinlogHead(head: Buffer, name = 'binlog'): BinlogHead {
  if (head.length < 4 || !head.subarray(0, 4).equals(BINLOG_MAGIC)) throw new CorruptObjectError(`${name}: not a valid binlog file, head 4 bytes must be fe'bin'`);
  if (head.length < 4 + EVENT_HEADER) throw new CorruptObjectError(`${name}: binlog too short`);
  const startTime = new Date(head.readUInt32LE(4) * 1000);
  let pos = 4;
  let checksumLen = 0;
  while (pos + EVENT_HEADER <= head.length) {
    const type = head[pos + 4]!;
    const size = head.readUInt32LE(pos + 9);
    if (size < EVENT_HEADER) break;
    if (pos + size > head.length) break;
    const body = head.subarray(pos + EVENT_HEADER, pos + size - checksumLen);
    if (type === FORMAT_DESCRIPTION_EVENT) {
      // binlog_version(2) server_version(50) create_timestamp(4) header_length(1) post-header lengths...,
      // then, since 5.6.1, the checksum algorithm byte and its 4-byte checksum close the event.
      const alg = head[pos + size - 5];
      checksumLen = alg === 1 ? 4 : 0;
    } else if (type === MARIADB_GTID_LIST_EVENT && body.length >= 4) {
      const count = body.readUInt32LE(0) & 0x0fffffff;
      const set = new MariadbGtidSet();
      for (let i = 0; i < count && 4 + (i + 1) * 16 <= body.length; i++) {
        const o = 4 + i * 16;
        set.add(body.readUInt32LE(o), body.readUInt32LE(o + 4), body.readBigUInt64LE(o + 8));
      }
      return { startTime, previousGtids: set };
    } else if (type === PREVIOUS_GTIDS_EVENT && body.length >= 8) {
      const set = new MysqlGtidSet();
      const nSids = Number(body.readBigUInt64LE(0));
      let o = 8;
      for (let i = 0; i < nSids && o + 24 <= body.length; i++) {
        const uuid = body.subarray(o, o + 16).toString('hex');
        const nIntervals = Number(body.readBigUInt64LE(o + 16));
        o += 24;
        for (let j = 0; j < nIntervals && o + 16 <= body.length; j++, o += 16) set.add(uuid, body.readBigUInt64LE(o), body.readBigUInt64LE(o + 8));
        if (nIntervals === 0) set.sids.set(uuid, []);
      }
      return { startTime, previousGtids: set };
    }
    pos += size;
  }
  return { startTime };
}

// Unit tests: the stream sentinel in WAL-G's StreamSentinelDto field order, omitempty rules, exact LSN, round trip.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeStreamSentinel, encodeStreamSentinel, goLocalTime, streamBackupName } from '../../src/mysql/sentinel.ts';
import type { StreamSentinel } from '../../src/mysql/sentinel.ts';
import { CorruptObjectError } from '../../src/core/errors.ts';

describe('mysql stream sentinel', () => {
  const full: StreamSentinel = {
    Tool: 'WALG_XTRABACKUP_TOOL', BinLogStart: 'mysql-bin.000002', BinLogEnd: 'mysql-bin.000004',
    StartLocalTime: '2024-05-01T12:00:00.123456789+03:00', StopLocalTime: '2024-05-01T12:00:09+03:00',
    UncompressedSize: 100, CompressedSize: 40, Hostname: 'db1', ServerUUID: 'u', ServerVersion: '8.0.35', ServerArch: 'amd64', ServerOS: 'linux',
    IsPermanent: true, IsIncremental: true, UserData: { a: [1, 'x<y'] }, LSN: 18446744073709551615n, DeltaLSN: 5n,
    DeltaFrom: 'stream_20240501T000000Z', DeltaFullName: 'stream_20240430T000000Z', DeltaCount: 2,
  };

  it('writes every field in WAL-G order', () => {
    assert.equal(encodeStreamSentinel(full),
      '{"Tool":"WALG_XTRABACKUP_TOOL","BinLogStart":"mysql-bin.000002","BinLogEnd":"mysql-bin.000004",'
      + '"StartLocalTime":"2024-05-01T12:00:00.123456789+03:00","StopLocalTime":"2024-05-01T12:00:09+03:00",'
      + '"UncompressedSize":100,"CompressedSize":40,"Hostname":"db1","ServerUUID":"u","ServerVersion":"8.0.35",'
      + '"ServerArch":"amd64","ServerOS":"linux","IsPermanent":true,"IsIncremental":true,"UserData":{"a":[1,"x\\u003cy"]},'
      + '"LSN":18446744073709551615,"DeltaLSN":5,"DeltaFrom":"stream_20240501T000000Z","DeltaFullName":"stream_20240430T000000Z","DeltaCount":2}');
  });

  it('omits empty optional fields like backup-push writes them', () => {
    const s: StreamSentinel = { Tool: 'WALG_UNSPECIFIED_STREAM_BACKUP_TOOL', BinLogStart: '', StartLocalTime: '2024-05-01T09:00:00Z', StopLocalTime: '2024-05-01T09:00:01.5Z', ServerUUID: '', IsPermanent: false, IsIncremental: false, LSN: null, DeltaCount: 0 };
    assert.equal(encodeStreamSentinel(s), '{"Tool":"WALG_UNSPECIFIED_STREAM_BACKUP_TOOL","StartLocalTime":"2024-05-01T09:00:00Z",'
      + '"StopLocalTime":"2024-05-01T09:00:01.5Z","IsPermanent":false,"IsIncremental":false,"LSN":null,"DeltaCount":0}');
  });

  it('round-trips, exact uint64, case-insensitive keys', () => {
    assert.deepEqual(decodeStreamSentinel(encodeStreamSentinel(full)), full);
    const lower = decodeStreamSentinel('{"tool":"T","binlogstart":"b.1","ispermanent":true,"lsn":12345678901234567890}');
    assert.equal(lower.Tool, 'T');
    assert.equal(lower.BinLogStart, 'b.1');
    assert.equal(lower.IsPermanent, true);
    assert.equal(lower.LSN, 12345678901234567890n);
    assert.equal(lower.StartLocalTime, '0001-01-01T00:00:00Z');
    assert.throws(() => decodeStreamSentinel('[1]'), CorruptObjectError);
    assert.throws(() => decodeStreamSentinel('{"UncompressedSize":"x"}'), CorruptObjectError);
  });

  it('names and times', () => {
    assert.equal(streamBackupName(new Date(Date.UTC(2024, 4, 1, 10, 0, 7, 999))), 'stream_20240501T100007Z');
    const t = goLocalTime(new Date(Date.UTC(2024, 4, 1, 10, 0, 7, 120)), 4500);
    assert.match(t, /^2024-05-01T\d{2}:\d{2}:07\.1200045(Z|[+-]\d{2}:\d{2})$/);
  });
});

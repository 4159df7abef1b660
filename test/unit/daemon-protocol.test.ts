// The daemon wire protocol with literal byte vectors from WAL-G's own scripts and tests
// (docker/pg_tests/scripts/tests/daemon_test.sh, external_commands/daemon_nc_send_wal_{push,fetch}.sh,
// internal/daemon/common_test.go), and the client's Go-style argument parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { PassThrough } from 'node:stream';
import {
  ByteReader, DaemonProtocolError, MSG, argsToBytes, bytesToArgs, decodeHeader, encodeMessage, readMessage,
} from '../../src/pg/daemon/protocol.ts';
import {
  DAEMON_CLIENT_FLAG_DEFAULTS, DaemonClientUsageError, daemonClientUsage, flagParseOutput, goErrnoText, parseDaemonClientArgs,
} from '../../src/pg/daemon/client.ts';
import { goLogLine } from '../../src/commands/pg/daemon-client.ts';
import { exitCodeFor } from '../../src/cli/exit-codes.ts';
import { ArchiveNonExistenceError, ReportedError } from '../../src/core/errors.ts';
import { daemonClientArgv } from '../../src/pg/daemon/client-argv.ts';

const WAL = '000000010000000000000002';
/** Bytes as a shell `echo -en` would write them. */
const bytes = (s: string) => Buffer.from(s, 'latin1');

test('message type bytes are WAL-G\'s', () => {
  assert.deepEqual(MSG, { CHECK: 'C', WAL_PUSH: 'F', WAL_FETCH: 'f', OK: 'O', ERROR: 'E', ARCHIVE_MISSING: 'N' });
});

test('encodeMessage reproduces the bytes of WAL-G\'s scripts', () => {
  // daemon_test.sh: echo -en "C\x0\x8"; echo -n "CHECK"
  assert.deepEqual(encodeMessage('C', ['CHECK']), bytes('C\x00\x08CHECK'));
  // daemon_nc_send_wal_push.sh: echo -en "F\x0\x1B${1}" — one argument is the raw body, not count-encoded
  assert.deepEqual(encodeMessage('F', [WAL]), bytes(`F\x00\x1B${WAL}`));
  // daemon_nc_send_wal_fetch.sh, segment: "f\x0\x33\x2" "\x0\x18${1}" "\x0\x13${2}", total 51
  assert.deepEqual(encodeMessage('f', ['00000001000000000000000A', 'pg_wal/RECOVERYXLOG']),
    bytes('f\x00\x33\x02\x00\x1800000001000000000000000A\x00\x13pg_wal/RECOVERYXLOG'));
  // daemon_nc_send_wal_fetch.sh, history file: "f\x0\x2E\x2" "\x0\x10${1}" "\x0\x16${2}", total 46
  assert.deepEqual(encodeMessage('f', ['00000002.history', 'pg_wal/RECOVERYHISTORY']),
    bytes('f\x00\x2E\x02\x00\x1000000002.history\x00\x16pg_wal/RECOVERYHISTORY'));
  // No arguments: the header alone, length 3.
  assert.deepEqual(encodeMessage('C', []), bytes('C\x00\x03'));
});

test('argsToBytes / bytesToArgs round-trip WAL-G\'s test cases', () => {
  for (const args of [[], ['value'], ['first value', 'second value', 'third value']]) {
    assert.deepEqual(bytesToArgs(argsToBytes(args)), args);
  }
  assert.deepEqual(argsToBytes([]), Buffer.from([0]));
  assert.deepEqual(argsToBytes(['ab', '']), Buffer.from([2, 0, 2, 0x61, 0x62, 0, 0]));
  // UTF-8 lengths are byte lengths, as Go's len(string).
  assert.deepEqual(argsToBytes(['é']), Buffer.from([1, 0, 2, 0xc3, 0xa9]));
});

test('bytesToArgs rejects corrupted bodies', () => {
  for (const body of [[], [1], [1, 0], [1, 0, 3, 0x61], [1, 0, 1, 0x61, 0x62], [2, 0, 1, 0x61]]) {
    assert.throws(() => bytesToArgs(Buffer.from(body)), (e: unknown) => e instanceof DaemonProtocolError && e.message === 'corrupted message body');
  }
});

test('size limits are WAL-G\'s', () => {
  assert.throws(() => argsToBytes(Array.from({ length: 256 }, () => 'x')), /unsupported args count/);
  assert.throws(() => argsToBytes(['x'.repeat(65536)]), /unsupported arg size/);
  assert.throws(() => argsToBytes(['x'.repeat(40000), 'y'.repeat(40000)]), /unsupported total args size/);
  assert.throws(() => encodeMessage('F', ['x'.repeat(65533)]), /unsupported arg size: message length 65536 exceeds uint16 max/);
  assert.equal(encodeMessage('F', ['x'.repeat(65532)]).readUInt16BE(1), 65535);
});

test('decodeHeader: total length includes the header; below 3 is refused', () => {
  assert.deepEqual(decodeHeader(bytes('F\x00\x1B')), { type: 'F', bodyLength: 24 });
  assert.deepEqual(decodeHeader(bytes('C\x00\x03')), { type: 'C', bodyLength: 0 });
  assert.deepEqual(decodeHeader(Buffer.from([0x66, 0x01, 0x00])), { type: 'f', bodyLength: 253 });
  assert.throws(() => decodeHeader(bytes('C\x00\x02')), /message too short: 2/);
});

test('readMessage reads back-to-back messages split at any byte, and reports truncation', async () => {
  const wire = Buffer.concat([bytes('C\x00\x08CHECK'), encodeMessage('F', [WAL])]);
  for (let cut = 0; cut <= wire.length; cut++) {
    const s = new PassThrough();
    const r = new ByteReader(s);
    s.write(wire.subarray(0, cut));
    setImmediate(() => s.end(wire.subarray(cut)));
    assert.deepEqual(await readMessage(r), { type: 'C', body: bytes('CHECK') });
    assert.deepEqual(await readMessage(r), { type: 'F', body: bytes(WAL) });
    assert.equal(await readMessage(r), null, 'clean end between messages');
  }
  const trunc = new PassThrough();
  const tr = new ByteReader(trunc);
  trunc.end(bytes('F\x00\x1B0000'));
  await assert.rejects(readMessage(tr), DaemonProtocolError);
  const shortHeader = new PassThrough();
  const sr = new ByteReader(shortHeader);
  shortHeader.end(bytes('F\x00'));
  await assert.rejects(readMessage(sr), /unexpected EOF/);
  const failing = new PassThrough();
  const fr = new ByteReader(failing);
  failing.destroy(new Error('ECONNRESET'));
  await assert.rejects(readMessage(fr), /ECONNRESET/);
});

test('client arguments follow walg-daemon-client (Go flag rules)', () => {
  const r = parseDaemonClientArgs(['/run/wal-g.sock', 'WAL-Fetch', WAL, 'pg_wal/RECOVERYXLOG', '-timeout', '90s', '--connection-timeout=1m30s']);
  assert.deepEqual(r, {
    socketPath: '/run/wal-g.sock', command: 'wal-fetch', type: 'f', args: [WAL, 'pg_wal/RECOVERYXLOG'],
    timeoutMs: 90_000, connectionTimeoutMs: 90_000,
  });
  const d = parseDaemonClientArgs(['s', 'wal-push', 'pg_wal/x', 'extra', '-timeout', '1s']);
  assert.equal(d.timeoutMs, 60_000, 'parsing stops at the first non-flag word');
  assert.equal(d.connectionTimeoutMs, 5_000);
  assert.deepEqual(d.args, ['pg_wal/x']);
  assert.equal(parseDaemonClientArgs(['s', 'wal-push', 'x', '-timeout=0']).timeoutMs, 0);
  const usage = (argv: string[], msg: string, commandUsage?: string) => assert.throws(() => parseDaemonClientArgs(argv),
    (e: unknown) => e instanceof DaemonClientUsageError && e.message === msg && e.commandUsage === commandUsage);
  usage(['s'], 'not enough arguments');
  usage(['s', 'wal-receive'], 'unsupported command wal-receive');
  usage(['s', 'wal-fetch', WAL], 'not enough command arguments', 'wal-fetch wal_name destination_filename');
  usage(['s', 'wal-push', 'x', '-timeout', '5'], 'invalid value "5" for flag -timeout: parse error');
  usage(['s', 'wal-push', 'x', '-v'], 'flag provided but not defined: -v');
  usage(['s', 'wal-push', 'x', '-timeout'], 'flag needs an argument: -timeout');
  usage(['s', 'wal-push', 'x', '---timeout', '1s'], 'bad flag syntax: ---timeout');
  usage(['s', 'wal-push', 'x', '-=1s'], 'bad flag syntax: -=1s');
  usage(['s', 'wal-push', 'x', '-timeout', ' 5s'], 'invalid value " 5s" for flag -timeout: parse error');
  usage(['s', 'wal-push', 'x', '-timeout='], 'invalid value "" for flag -timeout: parse error');
});

test('client usage errors: what Go\'s flag package prints to stderr before the usage text', () => {
  const caught = (argv: string[]): DaemonClientUsageError => {
    try { parseDaemonClientArgs(argv); } catch (e) { if (e instanceof DaemonClientUsageError) return e; throw e; }
    throw new Error('no usage error');
  };
  assert.equal(flagParseOutput(caught(['s', 'wal-fetch', WAL])), '', 'the client\'s own errors: nothing from the flag package');
  assert.equal(flagParseOutput(caught(['s', 'wal-push', 'x', '-v'])), `flag provided but not defined: -v\nUsage:\n${DAEMON_CLIENT_FLAG_DEFAULTS}`);
  const help = caught(['s', 'wal-push', 'x', '--help']);
  assert.equal(help.message, 'flag: help requested');
  assert.equal(flagParseOutput(help), `Usage:\n${DAEMON_CLIENT_FLAG_DEFAULTS}`);
});

test('client errors are printed as Go log lines (log.Fatal), and errno texts as Go words them', () => {
  assert.equal(goLogLine('daemon socket \'s\' doesn\'t exist or is unavailable:\n\tstat s: no such file or directory', new Date(2024, 0, 2, 3, 4, 5, 678)),
    '2024/01/02 03:04:05 daemon socket \'s\' doesn\'t exist or is unavailable:\n\tstat s: no such file or directory\n');
  assert.equal(goErrnoText(Object.assign(new Error('connect ECONNREFUSED /x'), { errno: -constants.errno.ECONNREFUSED, code: 'ECONNREFUSED' })), 'connection refused');
  assert.equal(goErrnoText(Object.assign(new Error('stat ENOENT'), { errno: -constants.errno.ENOENT })), 'no such file or directory');
  assert.equal(goErrnoText(new Error('plain')), 'plain');
  // The client prints its own lines; the entry point only maps what it reported to the exit code.
  assert.equal(exitCodeFor(new ReportedError(new ArchiveNonExistenceError('x'))), 74);
  assert.equal(exitCodeFor(new ReportedError(new Error('dial'))), 1);
});

test('client usage text is WAL-G\'s template output', () => {
  assert.equal(daemonClientUsage(new DaemonClientUsageError('not enough command arguments', 'wal-push wal_filepath')),
    'Error: not enough command arguments\n\nwalg-daemon-client is lightweight client for WAL-G daemon\n\nUsage:\n'
    + '  walg-daemon-client socket wal-push wal_filepath [flags]\n\nFlags:\n');
  assert.equal(daemonClientUsage(new DaemonClientUsageError('not enough arguments')),
    'Error: not enough arguments\n\nwalg-daemon-client is lightweight client for WAL-G daemon\n\nUsage:\n'
    + '  walg-daemon-client socket command [command_args] [flags]\n\nArguments:\n'
    + '  socket\t- name of unix socket to communicate with wal-g daemon\n'
    + '  command\t- command to send to the daemon: wal-push, wal-fetch\n'
    + '  command_args\t- command specific arguments\n\nFlags:\n');
});

test('daemonClientArgv: the walg-daemon-client name and the daemon-client subcommand', () => {
  const node = '/usr/bin/node';
  assert.deepEqual(daemonClientArgv(['s', 'wal-push', 'x'], '/usr/local/bin/walg-daemon-client', '/opt/wal-g/wal-g'),
    ['daemon-client', '--', 's', 'wal-push', 'x'], 'symlink name (argv0)');
  assert.deepEqual(daemonClientArgv(['--version'], 'walg-daemon-client', '/opt/walg-daemon-client'), ['daemon-client', '--', '--version']);
  assert.deepEqual(daemonClientArgv(['x'], './wal-g', '/opt/bin/walg-daemon-client'), ['daemon-client', '--', 'x'], 'renamed copy (execPath)');
  assert.deepEqual(daemonClientArgv(['x'], 'walg-daemon-client.exe', node), ['daemon-client', '--', 'x']);
  assert.deepEqual(daemonClientArgv(['daemon-client', 's', 'wal-push', 'x', '-v'], node, node), ['daemon-client', '--', 's', 'wal-push', 'x', '-v']);
  assert.deepEqual(daemonClientArgv(['daemon-client', '--', 's'], node, node), ['daemon-client', '--', 's'], 'idempotent');
  assert.deepEqual(daemonClientArgv(['wal-push', 'x'], 'wal-g', node), ['wal-push', 'x']);
  assert.deepEqual(daemonClientArgv(['st', 'ls', 'daemon-client'], 'wal-g', node), ['st', 'ls', 'daemon-client']);
});

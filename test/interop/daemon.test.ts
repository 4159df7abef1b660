// Interop case 8 (issue 14), the daemon protocol: WAL-G's walg-daemon-client and ours (`wal-g daemon-client`), each
// against WAL-G's `wal-g daemon` and against ours, on one shared file storage. Every pair archives a segment (wal-push
// %f), fetches it byte-identical through the other tool's daemon, gets exit 74 for a WAL that is not archived and
// exit 1 for a failed request, with the same stdout and stderr. Client-side failures (usage errors, a missing, dead
// or silent socket, E / N replies, timeouts) are printed alike by both clients. Our native client
// (dist/walg-daemon-client, src/native/walg_daemon_client.c, issue 15) runs every case too and must print as both.
// Needs WALG_REFERENCE_PG; the parts with WAL-G's client also WALG_REFERENCE_DAEMON_CLIENT.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OURS, REFERENCE, WALG } from './harness.ts';
import type { Tool } from './harness.ts';
import { ROOT, baseEnv, runBin } from '../helpers/cli.ts';

/** Our C client, built by `make build` next to dist/wal-g. */
const NATIVE_CLIENT = join(ROOT, 'dist', 'walg-daemon-client');
const skip = REFERENCE.pg ? false : 'WALG_REFERENCE_PG is not set';
const clientSkip = REFERENCE.daemonClient ? false : 'WALG_REFERENCE_DAEMON_CLIENT is not set';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A daemon client: how to run it with the client's own arguments. */
interface Client { name: 'ours' | 'native' | 'walg'; skip: string | false; run(args: string[]): Promise<Outcome> }
/** What a client run left: exit code, stdout, and stderr with Go's log timestamps replaced by "TS". */
interface Outcome { code: number; stdout: string; stderr: string }

async function outcome(bin: string, args: string[]): Promise<Outcome> {
  const r = await runBin(bin, args, baseEnv());
  // Go's log package (log.Fatal): "YYYY/MM/DD HH:MM:SS " in local time at the start of the first line.
  return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.replace(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} /gm, 'TS ') };
}

const CLIENTS: Client[] = [
  { name: 'walg', skip: clientSkip, run: (args) => outcome(REFERENCE.daemonClient!, args) },
  { name: 'ours', skip: false, run: (args) => outcome(OURS.bin, ['daemon-client', ...args]) },
  { name: 'native', skip: false, run: (args) => outcome(NATIVE_CLIENT, args) },
];

/** One running `wal-g daemon` of a tool, with its own PGDATA, on the shared storage. */
interface Daemon { tool: Tool; ext: string; pgdata: string; socket: string; proc: ChildProcess; stderr: string; exited: Promise<number | null> }

let dir: string;
const daemons = new Map<Tool['name'], Daemon>();
const key = Buffer.alloc(32, 11).toString('base64');

/** A WAL-like segment: compressible pages with some noise, 16 MiB. */
function makeSegment(seed: number): Buffer {
  const page = Buffer.alloc(8192);
  const out: Buffer[] = [];
  for (let i = 0; i < 2048; i++) {
    page.fill((i + seed) & 0xff, 0, 4096);
    randomBytes(512).copy(page, 4096);
    out.push(Buffer.from(page));
  }
  return Buffer.concat(out);
}

async function startDaemon(tool: Tool, compression: string, ext: string): Promise<Daemon> {
  const pgdata = join(dir, `pgdata-${tool.name}`);
  mkdirSync(join(pgdata, 'pg_wal', 'archive_status'), { recursive: true });
  const cfg = join(dir, `${tool.name}.json`);
  writeFileSync(cfg, JSON.stringify({
    WALG_FILE_PREFIX: join(dir, 'store'), PGDATA: pgdata, WALG_COMPRESSION_METHOD: compression,
    WALG_LIBSODIUM_KEY: key, WALG_LIBSODIUM_KEY_TRANSFORM: 'base64',
  }));
  const socket = join(dir, `${tool.name}.sock`);
  const proc = spawn(tool.bin, ['daemon', socket, '--config', cfg], { env: baseEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  const d: Daemon = { tool, ext, pgdata, socket, proc, stderr: '', exited: new Promise((r) => proc.on('close', (code) => r(code))) };
  proc.stderr!.on('data', (c: Buffer) => { d.stderr += c.toString(); });
  for (let i = 0; i < 150 && !existsSync(socket); i++) await sleep(100);
  assert.ok(existsSync(socket), `${tool.name} daemon is listening on ${socket}:\n${d.stderr}`);
  return d;
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'walg-interop-daemon-'));
  mkdirSync(join(dir, 'store'));
  // Different codecs, so that each daemon reads objects it did not write itself in a format it would not choose.
  daemons.set('walg', await startDaemon(WALG, 'brotli', 'br'));
  daemons.set('ours', await startDaemon(OURS, 'zstd', 'zst'));
});

after(async () => {
  for (const d of daemons.values()) if (d.proc.exitCode === null) d.proc.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const other = (name: Tool['name']): Daemon => daemons.get(name === 'walg' ? 'ours' : 'walg')!;
const missingWal = '0000000100000000000000F0';

describe('daemon clients against daemons, both ways', { skip }, () => {
  let segno = 0x10;
  for (const daemonName of ['walg', 'ours'] as const) {
    for (const client of CLIENTS) {
      test(`${client.name} client → ${daemonName} daemon: wal-push, wal-fetch (also through the other daemon), missing WAL, failures`, { skip: client.skip }, async () => {
        const d = daemons.get(daemonName)!;
        const name = `00000001000000000000${(segno += 0x20).toString(16).toUpperCase().padStart(4, '0')}`;
        const segment = makeSegment(segno);
        writeFileSync(join(d.pgdata, 'pg_wal', name), segment);

        // archive_command = 'walg-daemon-client <socket> wal-push %f' (WAL-G's documented form).
        assert.deepEqual(await client.run([d.socket, 'wal-push', name]), { code: 0, stdout: '', stderr: '' }, d.stderr);
        const stored = join(dir, 'store', 'wal_005', `${name}.${d.ext}`);
        assert.ok(existsSync(stored), `${daemonName} daemon stored ${stored}`);

        // restore_command = '... wal-fetch %f %p' through the other tool's daemon: it reads what this one wrote.
        const o = other(daemonName);
        assert.deepEqual(await client.run([o.socket, 'wal-fetch', name, 'pg_wal/RECOVERYXLOG']), { code: 0, stdout: '', stderr: '' }, o.stderr);
        const fetched = join(o.pgdata, 'pg_wal', 'RECOVERYXLOG');
        assert.ok(readFileSync(fetched).equals(segment), `${o.tool.name} daemon fetched the segment byte-identical`);
        rmSync(fetched);
        // An absolute destination inside the daemon's PGDATA is used as it is by both daemons.
        const abs = join(d.pgdata, 'pg_wal', `${name}.restored`);
        assert.equal((await client.run([d.socket, 'wal-fetch', name, abs])).code, 0, d.stderr);
        assert.ok(readFileSync(abs).equals(segment), `${daemonName} daemon fetched its own segment byte-identical`);
        rmSync(abs);

        // A WAL that is not archived: N → exit 74 (EX_IOERR), the reply error on stdout, nothing on stderr.
        const args = [missingWal, 'pg_wal/RECOVERYXLOG'];
        assert.deepEqual(await client.run([d.socket, 'wal-fetch', ...args]), {
          code: 74, stdout: `daemon command run error [message type: f, args: [${args.join(' ')}], daemon response: N]\n`, stderr: '',
        });
        assert.ok(!existsSync(join(d.pgdata, 'pg_wal', 'RECOVERYXLOG')), 'nothing written for a missing WAL');

        // A failed request (no such file to push; a destination that exists): E → exit 1, one Go log line.
        const gone = '0000000100000000000000EE';
        assert.deepEqual(await client.run([d.socket, 'wal-push', gone]), {
          code: 1, stdout: '', stderr: `TS daemon command run error [message type: F, args: [${gone}], daemon response: E]\n`,
        });
        writeFileSync(join(d.pgdata, 'pg_wal', 'EXISTING'), 'x');
        assert.deepEqual(await client.run([d.socket, 'wal-fetch', name, 'pg_wal/EXISTING']), {
          code: 1, stdout: '', stderr: `TS daemon command run error [message type: f, args: [${name} pg_wal/EXISTING], daemon response: E]\n`,
        });
        assert.equal(readFileSync(join(d.pgdata, 'pg_wal', 'EXISTING'), 'utf8'), 'x', 'an existing destination is left alone');
      });
    }
  }

  // Deliberate differences (ours accepts more; what WAL-G accepts, ours does the same with): `wal-push %p` and an
  // absolute wal-fetch destination outside PGDATA. WAL-G's daemon joins both under PGDATA and fails; ours serves them.
  test('wal-push %p and a destination outside PGDATA: WAL-G\'s daemon answers E, ours serves them', async () => {
    const client = CLIENTS.find((c) => c.name === 'ours')!;
    const name = '000000010000000000000099';
    const segment = makeSegment(0x99);
    const outside = join(dir, 'outside');
    mkdirSync(outside, { recursive: true });
    for (const d of daemons.values()) {
      writeFileSync(join(d.pgdata, 'pg_wal', name), segment);
      const push = await client.run([d.socket, 'wal-push', `pg_wal/${name}`]);
      const fetch = await client.run([d.socket, 'wal-fetch', name, join(outside, d.tool.name)]);
      if (d.tool.name === 'walg') assert.deepEqual([push.code, fetch.code], [1, 1], `WAL-G's daemon changed: ${d.stderr}`);
      else {
        assert.deepEqual([push.code, fetch.code], [0, 0], d.stderr);
        assert.ok(readFileSync(join(outside, 'ours')).equals(segment));
      }
    }
  });

  test('both daemons stop on SIGTERM with exit 0 and remove their socket', async () => {
    for (const d of daemons.values()) {
      d.proc.kill('SIGTERM');
      assert.equal(await d.exited, 0, `${d.tool.name} daemon:\n${d.stderr}`);
      assert.equal(existsSync(d.socket), false, `${d.tool.name} daemon removed ${d.socket}`);
    }
  });
});

/** A stand-in daemon that answers every request with `reply` ('eof': closes; 'hang': never answers). */
async function fakeDaemon(socket: string, reply: string): Promise<Server> {
  const server = createServer((c) => {
    c.on('error', () => {});
    c.once('data', () => {
      if (reply === 'eof') c.end();
      else if (reply !== 'hang') c.end(reply);
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  return server;
}

describe('both clients report alike: usage, sockets, replies, timeouts', { skip: skip || clientSkip }, () => {
  const servers: Server[] = [];
  let base: string;
  before(async () => {
    if (skip || clientSkip) return;
    base = mkdtempSync(join(dir, 'clients-'));
    for (const reply of ['O', 'E', 'N', 'X', 'eof', 'hang']) servers.push(await fakeDaemon(join(base, `${reply}.sock`), reply));
    // A daemon that died: its socket file is left, nobody listens.
    const dead = join(base, 'dead.sock');
    const p = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(dead)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    await new Promise((r) => p.on('close', r));
    assert.ok(existsSync(dead));
    writeFileSync(join(base, 'regular'), 'x');
  });
  after(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
  });

  const CASES: Array<[string, (b: string) => string[]]> = [
    ['no arguments', () => []],
    ['socket only', () => ['s']],
    ['unknown command', () => ['s', 'wal-receive']],
    ['missing command arguments', () => ['s', 'wal-fetch', 'x']],
    ['unknown flag', () => ['s', 'wal-push', 'x', '-bogus']],
    ['flag without its value', () => ['s', 'wal-push', 'x', '-timeout']],
    ['a bare number as duration', () => ['s', 'wal-push', 'x', '-timeout', '5']],
    ['an empty duration', () => ['s', 'wal-push', 'x', '-timeout=']],
    ['bad flag syntax', () => ['s', 'wal-push', 'x', '---timeout', '1s']],
    ['-h', () => ['s', 'wal-push', 'x', '-h']],
    ['--help', () => ['s', 'wal-push', 'x', '--help']],
    ['no such socket', () => ['s', 'wal-push', 'x', 'extra', '-timeout', '1s']],
    ['a dead daemon\'s socket', (b) => [join(b, 'dead.sock'), 'wal-push', 'x']],
    ['a regular file as socket', (b) => [join(b, 'regular'), 'wal-push', 'x']],
    ['a directory as socket', (b) => [b, 'wal-push', 'x']],
    ['O, the command in capitals, Go-style flags', (b) => [join(b, 'O.sock'), 'WAL-Fetch', 'a', 'b', '--timeout=10s', '-connection-timeout', '1m30s']],
    ['E', (b) => [join(b, 'E.sock'), 'wal-push', 'x']],
    ['N for wal-fetch', (b) => [join(b, 'N.sock'), 'wal-fetch', 'a', 'b']],
    ['N for wal-push', (b) => [join(b, 'N.sock'), 'wal-push', 'x']],
    ['an unknown reply', (b) => [join(b, 'X.sock'), 'wal-push', 'x']],
    ['connection closed without a reply', (b) => [join(b, 'eof.sock'), 'wal-fetch', 'a', 'b']],
    ['no reply within -timeout', (b) => [join(b, 'hang.sock'), 'wal-fetch', 'a', 'b', '-timeout', '300ms']],
    ['-timeout 0', (b) => [join(b, 'hang.sock'), 'wal-push', 'x', '-timeout', '0']],
    ['-connection-timeout 0', (b) => [join(b, 'O.sock'), 'wal-push', 'x', '-connection-timeout', '0']],
    ['fractional and negative durations', (b) => [join(b, 'hang.sock'), 'wal-push', 'x', '-timeout=.25s', '-connection-timeout', '-1.5h']],
    ['an unknown unit', () => ['s', 'wal-push', 'x', '-timeout', '5d']],
    ['a value that needs quoting', () => ['s', 'wal-push', 'x', '-timeout', 'a"b\\c\t\x01\r é']],
    ['flags after a non-flag are not parsed', (b) => [join(b, 'O.sock'), 'wal-push', 'x', 'stop', '-bogus']],
  ];
  for (const [what, argv] of CASES) {
    test(what, async () => {
      const args = argv(base);
      const [theirs, ours, native] = [await CLIENTS[0]!.run(args), await CLIENTS[1]!.run(args), await CLIENTS[2]!.run(args)];
      assert.deepEqual(ours, theirs, `wal-g daemon-client ${args.join(' ')}`);
      assert.deepEqual(native, theirs, `dist/walg-daemon-client ${args.join(' ')}`);
    });
  }
});

// dist/walg-daemon-client (src/native/walg_daemon_client.c) prints and exits exactly as `wal-g daemon-client`, the
// TypeScript client matched to WAL-G's in test/interop/daemon.test.ts (which also runs the native one when the
// reference is set). Here without the reference: usage errors, sockets that are missing, dead or not sockets, every
// reply of our daemon (in-process, src/pg/daemon/server.ts) and of stand-ins that answer X, close or hang, timeouts.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { log } from '../../src/core/log.ts';
import type { RunningDaemon } from '../../src/pg/daemon/server.ts';
import { ROOT, WALG_BIN, baseEnv, runBin } from '../helpers/cli.ts';
import { fakeDaemon } from '../helpers/fake-daemon.ts';
import { tempDir } from '../helpers/tmp.ts';

const NATIVE = join(ROOT, 'dist', 'walg-daemon-client');
log.discard();

interface Outcome { code: number; stdout: string; stderr: string }
async function outcome(bin: string, args: string[]): Promise<Outcome> {
  const r = await runBin(bin, args, baseEnv());
  return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.replace(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} /gm, 'TS ') };
}

let base: string;
let daemon: { d: RunningDaemon; sock: string };
const servers: Server[] = [];

before(async () => {
  base = tempDir('walg-native-client-');
  daemon = await fakeDaemon();
  for (const reply of ['X', 'eof', 'hang']) {
    const server = createServer((c) => {
      c.on('error', () => {});
      c.once('data', () => { if (reply === 'eof') c.end(); else if (reply !== 'hang') c.end(reply); });
    });
    await new Promise<void>((r) => server.listen(join(base, `${reply}.sock`), r));
    servers.push(server);
  }
  const dead = join(base, 'dead.sock');
  const p = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(dead)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  await new Promise((r) => p.on('close', r));
  writeFileSync(join(base, 'regular'), 'x');
});

after(async () => {
  await daemon?.d.close();
  for (const s of servers) await new Promise((r) => s.close(r));
});

test('dist/walg-daemon-client is built, a small libc-only executable', () => {
  assert.ok(existsSync(NATIVE), 'make build produces dist/walg-daemon-client');
  assert.ok(statSync(NATIVE).size < 200_000, `${statSync(NATIVE).size} bytes`);
});

const CASES: Array<[string, () => string[]]> = [
  ['--version', () => ['--Version']],
  ['no arguments', () => []],
  ['unknown command', () => ['s', 'wal-receive']],
  ['missing command arguments', () => ['s', 'wal-fetch', 'x']],
  ['unknown flag', () => ['s', 'wal-push', 'x', '-bogus']],
  ['flag without its value', () => ['s', 'wal-push', 'x', '-timeout']],
  ['a bare number', () => ['s', 'wal-push', 'x', '--connection-timeout=5']],
  ['a value that needs quoting', () => ['s', 'wal-push', 'x', '-timeout', 'a"b\\c\t\x01']],
  ['bad flag syntax', () => ['s', 'wal-push', 'x', '-=1s']],
  ['-help', () => ['s', 'wal-push', 'x', '-help']],
  ['no such socket', () => [join(base, 'none.sock'), 'wal-push', 'x']],
  ['a dead daemon\'s socket', () => [join(base, 'dead.sock'), 'wal-push', 'x']],
  ['a regular file', () => [join(base, 'regular'), 'wal-push', 'x']],
  ['O from our daemon, capitals and Go-style flags', () => [daemon.sock, 'WAL-PUSH', `pg_wal/000000010000000000000002`, '--timeout=10s', '-connection-timeout', '1m30.5s']],
  ['N from our daemon', () => [daemon.sock, 'wal-fetch', 'missing3', 'pg_wal/RECOVERYXLOG']],
  ['E from our daemon', () => [daemon.sock, 'wal-fetch', 'fail3', 'pg_wal/RECOVERYXLOG']],
  ['an unknown reply', () => [join(base, 'X.sock'), 'wal-push', 'x']],
  ['closed without a reply', () => [join(base, 'eof.sock'), 'wal-fetch', 'a', 'b']],
  ['no reply within -timeout', () => [join(base, 'hang.sock'), 'wal-push', 'x', '-timeout', '200ms']],
  ['-timeout 0', () => [join(base, 'hang.sock'), 'wal-push', 'x', '-timeout', '0']],
  ['-connection-timeout -1s', () => [daemon.sock, 'wal-push', 'x', '-connection-timeout', '-1s']],
  ['an argument too long for one message', () => [daemon.sock, 'wal-push', 'p'.repeat(65533)]],
];

for (const [what, argv] of CASES) {
  test(`native client = wal-g daemon-client: ${what}`, async () => {
    const args = argv();
    const [ts, native] = [await outcome(WALG_BIN, ['daemon-client', '--', ...args]), await outcome(NATIVE, args)];
    assert.deepEqual(native, ts, `walg-daemon-client ${args.join(' ').slice(0, 200)}`);
  });
}

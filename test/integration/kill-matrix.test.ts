// Issue 21 acceptance 2, the kill matrix: dist/wal-g killed with SIGKILL at moments a seeded generator picks, over
// and over, in wal-push, st put and wal-fetch (slowed by a network rate limit so that kills land mid-transfer), and
// in backup-push of a real cluster. After every kill the invariant is checked: an object (or a fetched file) is
// either absent or whole — never a prefix — and a backup is listed only when it restores. The same checker, given
// a planted non-atomic writer (plain `cat > object` with the same pacing), must find torn objects: so the matrix
// can fail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { initCluster, userTempDir } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { WALG_BIN, walg, baseEnv } from '../helpers/cli.ts';

const SEED = Number(process.env.KILL_MATRIX_SEED ?? 20261203);
let work: string;
let store: string;
let env: Record<string, string>;
let segment: Buffer;
const SEG = '000000010000000000000042';

/** A small seeded generator (mulberry32): the same kill moments on every run with the same seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(SEED);

/** Starts `cmd args`, kills it with SIGKILL after `ms` (if still running); resolves with whether the kill landed. */
function killAfter(cmd: string, args: string[], e: Record<string, string>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: e, stdio: 'ignore' });
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (_code, signal) => { clearTimeout(t); resolve(signal === 'SIGKILL'); });
  });
}

before(() => {
  work = userTempDir('walg-kill-');
  chmodSync(work, 0o755);
  store = join(work, 'store');
  mkdirSync(store);
  segment = randomBytes(16 << 20); // incompressible: the rate limit paces the whole 16 MiB
  writeFileSync(join(work, SEG), segment);
  // 12 MiB/s (the limiter lets one second's worth through at once): a 16 MiB transfer ends ~0.5 s after start,
  // start-up included, so kills at 0..500 ms spread over its start, middle and end.
  env = baseEnv({ WALG_FILE_PREFIX: store, WALG_COMPRESSION_METHOD: 'lz4', WALG_NETWORK_RATE_LIMIT: String(12 << 20), WALG_UPLOAD_CONCURRENCY: '1' });
});

after(() => { if (work) rmSync(work, { recursive: true, force: true }); });

/** Whether the stored object `key` (its file in the storage) is absent, whole (decodes to `want`), or torn. */
async function objectState(name: string, want: Buffer): Promise<'absent' | 'whole' | 'torn'> {
  if (!existsSync(join(store, 'wal_005', `${name}.lz4`))) return 'absent';
  const out = join(work, `check-${name}`);
  rmSync(out, { force: true });
  const r = await walg(['wal-fetch', name, out], baseEnv({ WALG_FILE_PREFIX: store }));
  const ok = r.code === 0 && existsSync(out) && readFileSync(out).equals(want);
  rmSync(out, { force: true });
  return ok ? 'whole' : 'torn';
}

/** Objects and temp files the storage holds besides finished ones: leftovers are fine, visible ones are not. */
function visibleObjects(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => !/\.tmp\.\d{8}T\d{6}Z-[0-9a-f]{16}$/.test(n)) : [];
}

test('kill matrix: 200+ SIGKILLs in wal-push, st put, wal-fetch and backup-push never leave a torn object', async (t) => {
  const counts = { walPush: 0, stPut: 0, walFetch: 0, backupPush: 0, landed: 0, whole: 0 };
  // wal-push: killed at 0..500 ms; the object is absent or whole.
  for (let i = 0; i < 90; i++) {
    rmSync(join(store, 'wal_005'), { recursive: true, force: true });
    if (await killAfter(WALG_BIN, ['wal-push', join(work, SEG)], env, Math.floor(rand() * 500))) counts.landed++;
    const s = await objectState(SEG, segment);
    assert.notEqual(s, 'torn', `wal-push kill ${i}: torn object (seed ${SEED})`);
    if (s === 'whole') counts.whole++;
    counts.walPush++;
  }
  // st put of the same bytes under another name.
  for (let i = 0; i < 55; i++) {
    const name = `000000010000000000000043`;
    rmSync(join(store, 'wal_005'), { recursive: true, force: true });
    if (await killAfter(WALG_BIN, ['st', 'put', join(work, SEG), `wal_005/${name}`], env, Math.floor(rand() * 500))) counts.landed++;
    assert.notEqual(await objectState(name, segment), 'torn', `st put kill ${i}: torn object (seed ${SEED})`);
    counts.stPut++;
  }
  // wal-fetch: the destination appears only whole.
  const push = await walg(['wal-push', join(work, SEG)], baseEnv({ WALG_FILE_PREFIX: store, WALG_COMPRESSION_METHOD: 'lz4' }));
  assert.equal(push.code, 0, push.stderr);
  const dest = join(work, 'fetched');
  for (let i = 0; i < 50; i++) {
    rmSync(dest, { force: true });
    if (await killAfter(WALG_BIN, ['wal-fetch', SEG, dest], env, Math.floor(rand() * 400))) counts.landed++;
    if (existsSync(dest)) assert.ok(readFileSync(dest).equals(segment), `wal-fetch kill ${i}: a torn destination (seed ${SEED})`);
    counts.walFetch++;
  }
  // backup-push of a real cluster: a backup is listed only when it restores.
  const c: PgCluster = await initCluster({});
  try {
    await c.start();
    await c.pgbench(['-i', '-s', '2', '-q']);
    const benv = { ...env, ...c.env, WALG_NETWORK_RATE_LIMIT: String(16 << 20), WALG_TAR_SIZE_THRESHOLD: String(4 << 20) };
    for (let i = 0; i < 12; i++) {
      if (await killAfter(WALG_BIN, ['backup-push', c.dataDir], benv, 200 + Math.floor(rand() * 2500))) counts.landed++;
      counts.backupPush++;
    }
    const listed = await walg(['backup-list', '--json'], baseEnv({ WALG_FILE_PREFIX: store }));
    const names = listed.stdout.toString().trim() ? (JSON.parse(listed.stdout.toString()) as { backup_name: string }[]).map((b) => b.backup_name) : [];
    for (const n of names) {
      const target = join(work, `restore-${n}`);
      const r = await walg(['backup-fetch', target, n], baseEnv({ WALG_FILE_PREFIX: store }));
      assert.equal(r.code, 0, `listed backup ${n} restores: ${r.stderr}`);
      rmSync(target, { recursive: true, force: true });
    }
    const sentinels = visibleObjects(join(store, 'basebackups_005')).filter((n) => n.endsWith('_backup_stop_sentinel.json'));
    assert.equal(sentinels.length, names.length);
    t.diagnostic(`backup-push: ${counts.backupPush} runs, ${names.length} finished (and restored), the rest killed unlisted`);
  } finally {
    await c.destroy();
  }
  const total = counts.walPush + counts.stPut + counts.walFetch + counts.backupPush;
  t.diagnostic(`kills: ${total} runs, ${counts.landed} killed mid-run, ${counts.whole} wal-push objects whole after a kill; seed ${SEED}`);
  assert.ok(total >= 200, `${total} runs`);
  assert.ok(counts.landed >= 120, `most kills landed mid-run: ${counts.landed}`);
});

test('kill matrix: the checker finds a planted non-atomic writer', async () => {
  // The planted writer copies a whole lz4 object straight into its final name, paced like the tool: no temp
  // file, no rename. Killed the same way, it must leave objects the checker calls torn.
  const whole = join(work, 'whole.lz4');
  execFileSync('lz4', ['-q', '-f', join(work, SEG), whole]);
  const writer = `const fs = require('fs'); const b = fs.readFileSync(process.argv[1]); const fd = fs.openSync(process.argv[2], 'w');
    let off = 0; const step = () => { if (off >= b.length) return; fs.writeSync(fd, b, off, Math.min(1 << 20, b.length - off)); off += 1 << 20; setTimeout(step, 25); }; step();`;
  let torn = 0;
  for (let i = 0; i < 20; i++) {
    rmSync(join(store, 'wal_005'), { recursive: true, force: true });
    mkdirSync(join(store, 'wal_005'), { recursive: true });
    await killAfter(process.execPath, ['-e', writer, whole, join(store, 'wal_005', `${SEG}.lz4`)], env, 50 + Math.floor(rand() * 300));
    if ((await objectState(SEG, segment)) === 'torn') torn++;
  }
  assert.ok(torn > 0, 'the planted writer leaves torn objects the checker reports');
});

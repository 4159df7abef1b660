// The release artefact: dist/wal-g runs alone (no node_modules, no Node on PATH, empty environment),
// and its embedded native addons (lz4, lzma, libsodium) load from the executable's assets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, copyFileSync, rmSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDist, runBin } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'walg-dist-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

test('dist/wal-g copied alone to an empty folder runs --help and --version with an empty environment', async () => {
  const alone = join(dir, 'alone');
  mkdirSync(alone);
  copyFileSync(ensureDist(), join(alone, 'wal-g'));
  const help = await runBin(join(alone, 'wal-g'), ['--help'], {});
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout.toString(), /Usage: wal-g/);
  assert.match(help.stdout.toString(), /\bst\b/);
  assert.equal(help.stderr, '');
  const v = await runBin(join(alone, 'wal-g'), ['--version'], {});
  assert.match(v.stdout.toString(), /^wal-g version v\d+\.\d+\.\d+/);
});

test('dist/wal-g loads every codec and libsodium from its own assets', async () => {
  const alone = join(dir, 'codecs');
  mkdirSync(join(alone, 'store'), { recursive: true });
  const bin = join(alone, 'wal-g');
  copyFileSync(ensureDist(), bin);
  const data = Buffer.concat([randomBytes(300_000), Buffer.alloc(300_000, 7)]);
  writeFileSync(join(alone, 'in'), data);
  for (const method of ['lz4', 'lzma', 'zstd', 'brotli']) {
    const env = { WALG_FILE_PREFIX: join(alone, 'store'), WALG_COMPRESSION_METHOD: method,
      WALG_LIBSODIUM_KEY: randomBytes(32).toString('base64'), WALG_LIBSODIUM_KEY_TRANSFORM: 'base64' };
    const put = await runBin(bin, ['st', 'put', join(alone, 'in'), `o-${method}`], env);
    assert.equal(put.code, 0, `${method}: ${put.stderr}`);
    const ext = { lz4: 'lz4', lzma: 'lzma', zstd: 'zst', brotli: 'br' }[method]!;
    const get = await runBin(bin, ['st', 'get', `o-${method}.${ext}`, join(alone, `out-${method}`)], env);
    assert.equal(get.code, 0, `${method}: ${get.stderr}`);
    assert.ok(readFileSync(join(alone, `out-${method}`)).equals(data), method);
  }
});

test('dist/wal-g compiles its lazy chunks (YAML config parser, openpgp) from its own assets', async () => {
  const alone = join(dir, 'chunks');
  mkdirSync(join(alone, 'store'), { recursive: true });
  mkdirSync(join(alone, 'gnupg'), { mode: 0o700 });
  const bin = join(alone, 'wal-g');
  copyFileSync(ensureDist(), bin);
  const { execFileSync } = await import('node:child_process');
  const gpgEnv = { ...process.env, GNUPGHOME: join(alone, 'gnupg') };
  execFileSync('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'dist <dist@test>', 'default', 'default', 'never'], { env: gpgEnv, stdio: 'ignore' });
  writeFileSync(join(alone, 'key.asc'), execFileSync('gpg', ['--armor', '--export-secret-keys', 'dist@test'], { env: gpgEnv }));
  writeFileSync(join(alone, 'walg.yaml'), `WALG_FILE_PREFIX: ${join(alone, 'store')}\nWALG_PGP_KEY_PATH: ${join(alone, 'key.asc')}\n`);
  writeFileSync(join(alone, 'in'), 'pgp through the single executable\n');
  const put = await runBin(bin, ['--config', join(alone, 'walg.yaml'), 'st', 'put', join(alone, 'in'), 'p'], {});
  assert.equal(put.code, 0, put.stderr);
  const viaGpg = execFileSync('sh', ['-c', `gpg --batch -d '${join(alone, 'store', 'p.lz4')}' 2>/dev/null | lz4 -d -c`], { env: gpgEnv });
  assert.equal(viaGpg.toString(), 'pgp through the single executable\n');
  const get = await runBin(bin, ['--config', join(alone, 'walg.yaml'), 'st', 'get', 'p.lz4', join(alone, 'out')], {});
  assert.equal(get.code, 0, get.stderr);
  assert.equal(readFileSync(join(alone, 'out'), 'utf8'), 'pgp through the single executable\n');
});

test('dist/wal-g st cat --range reads byte ranges of a stored object, the empty one included', async () => {
  const alone = join(dir, 'range');
  mkdirSync(join(alone, 'store'), { recursive: true });
  writeFileSync(join(alone, 'store', 'obj'), '0123456789');
  const env = { WALG_FILE_PREFIX: join(alone, 'store') };
  const empty = await runBin(ensureDist(), ['st', 'cat', 'obj', '--range', '4:4'], env);
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(empty.stdout.length, 0);
  assert.equal(empty.stderr, '');
  const mid = await runBin(ensureDist(), ['st', 'cat', 'obj', '--range', '2:6'], env);
  assert.equal(mid.code, 0, mid.stderr);
  assert.equal(mid.stdout.toString(), '2345');
  const tail = await runBin(ensureDist(), ['st', 'cat', 'obj', '--range', '7:'], env);
  assert.equal(tail.stdout.toString(), '789');
  const bad = await runBin(ensureDist(), ['st', 'cat', 'obj', '--range', '6:2'], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^ERROR: .*end is before start\n$/);
});

test('dist/wal-g at WALG_LOG_LEVEL=DEVEL prints stack frames in src/ files, not the bundle', async () => {
  const r = await runBin(ensureDist(), ['wal-fetch', '000000010000000000000001', join(dir, 'nowhere')],
    { WALG_FILE_PREFIX: join(dir, 'empty-store'), WALG_LOG_LEVEL: 'DEVEL' });
  assert.equal(r.code, 74, r.stderr);
  assert.match(r.stderr, /at \S+ \(src\/pg\/[\w/-]+\.ts:\d+:\d+\)/);
  assert.doesNotMatch(r.stderr, /wal-g\.cjs/);
});

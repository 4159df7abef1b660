// `wal-g st` end to end on file storage: codecs against their native CLIs, encryption, and bad input.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { walg, baseEnv, LOG_LINE } from '../helpers/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'walg-st-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
let n = 0;
function fresh(): { store: string; env: Record<string, string>; dir: string } {
  const dir = join(work, `case${n++}`);
  const store = join(dir, 'store');
  mkdirSync(store, { recursive: true });
  return { dir, store, env: baseEnv({ WALG_FILE_PREFIX: store }) };
}

// Mixed data: text-like runs and random blocks, so every codec has real work and several blocks.
function sample(size = 3 * 1024 * 1024 + 123): Buffer {
  const parts: Buffer[] = [];
  let len = 0;
  while (len < size) {
    const b = len % 3 === 0 ? randomBytes(4096) : Buffer.from(`row ${len} value ${len * 7} ${'x'.repeat(len % 50)}\n`.repeat(40));
    parts.push(b);
    len += b.length;
  }
  return Buffer.concat(parts).subarray(0, size);
}

const CODECS = [
  { method: 'lz4', ext: 'lz4', decode: ['lz4', ['-d', '-c']], encode: ['lz4', ['-c']] },
  { method: 'lzma', ext: 'lzma', decode: ['xz', ['--format=lzma', '-d', '-c']], encode: ['xz', ['--format=lzma', '-c']] },
  { method: 'zstd', ext: 'zst', decode: ['zstd', ['-d', '-c']], encode: ['zstd', ['-c']] },
  { method: 'brotli', ext: 'br', decode: ['brotli', ['-d', '-c']], encode: ['brotli', ['-c']] },
] as const;

describe('codecs through st put/get against native CLIs', () => {
  const data = sample();
  for (const c of CODECS) {
    test(`${c.method}: st put output is decoded by ${c.decode[0]}; ${c.encode[0]} output is read by st get`, async () => {
      const { dir, store, env } = fresh();
      const src = join(dir, 'plain.bin');
      writeFileSync(src, data);
      const put = await walg(['st', 'put', src, 'obj/data'], { ...env, WALG_COMPRESSION_METHOD: c.method });
      assert.equal(put.code, 0, put.stderr);
      const stored = join(store, 'obj', `data.${c.ext}`);
      assert.ok(existsSync(stored), `stored as data.${c.ext}`);
      const decoded = execFileSync(c.decode[0], [...c.decode[1], stored], { maxBuffer: 1 << 30 });
      assert.ok(decoded.equals(data), `${c.decode[0]} decodes our object byte for byte`);

      const foreign = execFileSync(c.encode[0], [...c.encode[1], src], { maxBuffer: 1 << 30 });
      writeFileSync(join(store, 'obj', `foreign.${c.ext}`), foreign);
      const out = join(dir, 'back.bin');
      const get = await walg(['st', 'get', `obj/foreign.${c.ext}`, out], env);
      assert.equal(get.code, 0, get.stderr);
      assert.ok(readFileSync(out).equals(data), 'st get decodes the CLI object byte for byte');
    });
  }

  test('none: no extension, bytes as they are', async () => {
    const { dir, store, env } = fresh();
    const src = join(dir, 'plain.bin');
    writeFileSync(src, data);
    assert.equal((await walg(['st', 'put', src, 'raw'], { ...env, WALG_COMPRESSION_METHOD: 'none' })).code, 0);
    assert.ok(readFileSync(join(store, 'raw')).equals(data));
  });
});

describe('st tools', () => {
  test('ls, ls -r, stat, cat, rm; overwrite needs -f; stdin put', async () => {
    const { dir, env } = fresh();
    const src = join(dir, 'f.txt');
    writeFileSync(src, 'hello world\n');
    assert.equal((await walg(['st', 'put', src, 'a/b/f.txt'], env)).code, 0);
    const again = await walg(['st', 'put', src, 'a/b/f.txt'], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /object a\/b\/f\.txt\.lz4 already exists\. To overwrite it, add the -f flag/);
    assert.equal((await walg(['st', 'put', '-f', src, 'a/b/f.txt'], env)).code, 0);
    assert.equal((await walg(['st', 'put', '-s', 'a/stdin.txt', '--no-compress'], env, Buffer.from('from stdin'))).code, 0);

    const ls = await walg(['st', 'ls'], env);
    assert.equal(ls.code, 0, ls.stderr);
    const lines = ls.stdout.toString().trimEnd().split('\n');
    assert.match(lines[0]!, /^type +size +last modified +name$/);
    assert.match(lines[1]!, /^dir +0 +0001-01-01 00:00:00 \+0000 UTC +a\/\s*$/);
    const lsr = (await walg(['st', 'ls', '-r', 'a'], env)).stdout.toString();
    assert.match(lsr, /obj +\d+ +\d{4}-\d{2}-\d{2} [\d:.]+ \+0000 UTC +b\/f\.txt\.lz4/);
    assert.match(lsr, /obj +10 .* stdin\.txt/);
    const stat = await walg(['st', 'stat', 'a/stdin.txt'], env);
    assert.match(stat.stdout.toString(), /obj +10 .* a\/stdin\.txt/);

    const rawCat = await walg(['st', 'cat', 'a/b/f.txt.lz4'], env);
    assert.equal(rawCat.stdout.subarray(0, 4).toString('hex'), '04224d18', 'cat is raw by default');
    const cat = await walg(['st', 'cat', '--decompress', 'a/b/f.txt.lz4'], env);
    assert.equal(cat.stdout.toString(), 'hello world\n');
    const globCat = await walg(['st', 'cat', '-g', 'a/*.txt'], env);
    assert.equal(globCat.stdout.toString(), 'from stdin');

    assert.equal((await walg(['st', 'rm', 'a/b'], env)).code, 0);
    assert.equal((await walg(['st', 'stat', 'a/b/f.txt.lz4'], env)).code, 1);
    const rmMissing = await walg(['st', 'rm', 'nothing/here'], env);
    assert.equal(rmMissing.code, 1);
    assert.match(rmMissing.stderr, /object or folder "nothing\/here" does not exist/);
  });

  test('check read and check write', async () => {
    const { dir, env } = fresh();
    writeFileSync(join(dir, 'x'), 'x');
    await walg(['st', 'put', '--no-compress', join(dir, 'x'), 'present'], env);
    const ok = await walg(['st', 'check', 'read', 'present'], env);
    assert.equal(ok.code, 0);
    assert.match(ok.stderr, /^INFO: .* Read check OK$/m);
    const bad = await walg(['st', 'check', 'read', 'present', 'absent'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /files are missing: absent/);
    const w = await walg(['st', 'check', 'write'], env);
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stderr, /Write check OK/);
    assert.equal((await walg(['st', 'ls'], env)).stdout.toString().trimEnd().split('\n').length, 2, 'check write leaves nothing behind');
  });

  test('settings as hidden flags and from a --config file', async () => {
    const { dir, store } = fresh();
    writeFileSync(join(dir, 'x'), 'x');
    const viaFlag = await walg(['st', 'put', '--walg-file-prefix', store, '--walg-compression-method=zstd', join(dir, 'x'), 'flagged'], baseEnv());
    assert.equal(viaFlag.code, 0, viaFlag.stderr);
    assert.ok(existsSync(join(store, 'flagged.zst')));
    const cfg = join(dir, 'walg.yaml');
    writeFileSync(cfg, `WALG_FILE_PREFIX: ${store}\nwalg_compression_method: brotli\nWALG_TYPO_SETTING: 1\n`);
    const viaFile = await walg(['--config', cfg, 'st', 'put', join(dir, 'x'), 'filed'], baseEnv());
    assert.equal(viaFile.code, 0, viaFile.stderr);
    assert.ok(existsSync(join(store, 'filed.br')));
    assert.match(viaFile.stderr, /^WARNING: .* WALG_TYPO_SETTING is unknown$/m);
  });
});

describe('bad input: one-line error, non-zero exit, nothing written', () => {
  function assertOneLineError(r: { code: number; stderr: string }, pattern: RegExp): void {
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `exactly one stderr line, got:\n${r.stderr}`);
    assert.match(lines[0]!, LOG_LINE);
    assert.match(lines[0]!, pattern);
  }

  test('missing storage setting', async () => {
    const r = await walg(['st', 'ls'], baseEnv());
    assertOneLineError(r, /^ERROR: .*Failed to find any configured storage/);
  });

  test('bad setting values', async () => {
    const { env } = fresh();
    assertOneLineError(await walg(['st', 'ls'], { ...env, WALG_LOG_LEVEL: 'LOUD' }), /incorrect log level/);
    const { dir } = fresh();
    writeFileSync(join(dir, 'x'), 'x');
    assertOneLineError(await walg(['st', 'put', join(dir, 'x'), 'y'], { ...env, WALG_COMPRESSION_METHOD: 'rar' }), /WALG_COMPRESSION_METHOD must be one of/);
  });

  test('missing object', async () => {
    const { dir, env } = fresh();
    const out = join(dir, 'out');
    assertOneLineError(await walg(['st', 'get', 'no/such.lz4', out], env), /no\/such\.lz4/);
    assert.equal(existsSync(out), false);
  });

  for (const [method, ext] of [['lz4', 'lz4'], ['zstd', 'zst']] as const) {
    test(`flipped byte in a ${method} object`, async () => {
      const { dir, store, env } = fresh();
      const src = join(dir, 'src');
      writeFileSync(src, sample(600_000));
      assert.equal((await walg(['st', 'put', src, 'obj'], { ...env, WALG_COMPRESSION_METHOD: method })).code, 0);
      const p = join(store, `obj.${ext}`);
      const b = readFileSync(p);
      b[Math.floor(b.length / 2)] ^= 0x5a;
      writeFileSync(p, b);
      const out = join(dir, 'out');
      assertOneLineError(await walg(['st', 'get', `obj.${ext}`, out], env), /corrupt|checksum|invalid/i);
      assert.equal(existsSync(out), false, 'nothing written at the destination');
      assert.deepEqual(readdirSync(dir).sort(), ['src', 'store'], 'no temp file left');
    });
  }

  for (const c of CODECS) {
    test(`truncated ${c.method} object`, async () => {
      const { dir, store, env } = fresh();
      const src = join(dir, 'src');
      writeFileSync(src, sample(600_000));
      assert.equal((await walg(['st', 'put', src, 'obj'], { ...env, WALG_COMPRESSION_METHOD: c.method })).code, 0);
      const p = join(store, `obj.${c.ext}`);
      const b = readFileSync(p);
      writeFileSync(p, b.subarray(0, Math.floor(b.length * 0.6)));
      const out = join(dir, 'out');
      assertOneLineError(await walg(['st', 'get', `obj.${c.ext}`, out], env), /corrupt|truncated|unexpected end/i);
      assert.equal(existsSync(out), false);
    });
  }

  test('existing destination is refused and left untouched', async () => {
    const { dir, env } = fresh();
    writeFileSync(join(dir, 'x'), 'new');
    await walg(['st', 'put', join(dir, 'x'), 'x'], env);
    writeFileSync(join(dir, 'existing'), 'keep me');
    assertOneLineError(await walg(['st', 'get', 'x.lz4', join(dir, 'existing')], env), /already exists/);
    assert.equal(readFileSync(join(dir, 'existing'), 'utf8'), 'keep me');
  });

  test('libsodium: round trip, wrong key, no stack trace unless DEVEL', async () => {
    const { dir, env } = fresh();
    const key = { WALG_LIBSODIUM_KEY: randomBytes(32).toString('hex'), WALG_LIBSODIUM_KEY_TRANSFORM: 'hex' };
    const data = sample(100_000);
    writeFileSync(join(dir, 'src'), data);
    assert.equal((await walg(['st', 'put', join(dir, 'src'), 'enc'], { ...env, ...key })).code, 0);
    assert.equal((await walg(['st', 'get', 'enc.lz4', join(dir, 'ok')], { ...env, ...key })).code, 0);
    assert.ok(readFileSync(join(dir, 'ok')).equals(data));
    const wrong = { WALG_LIBSODIUM_KEY: randomBytes(32).toString('hex'), WALG_LIBSODIUM_KEY_TRANSFORM: 'hex' };
    assertOneLineError(await walg(['st', 'get', 'enc.lz4', join(dir, 'bad')], { ...env, ...wrong }), /wrong key|decrypt/i);
    assert.equal(existsSync(join(dir, 'bad')), false);
    const devel = await walg(['st', 'get', 'enc.lz4', join(dir, 'bad2')], { ...env, ...wrong, WALG_LOG_LEVEL: 'DEVEL' });
    assert.notEqual(devel.code, 0);
    assert.match(devel.stderr, /\n\s+at /, 'DEVEL prints the stack');
    assert.doesNotMatch(devel.stderr, new RegExp(wrong.WALG_LIBSODIUM_KEY), 'the key is never logged');
    assert.match(devel.stderr, /WALG_LIBSODIUM_KEY=--HIDDEN--/);
  });
});

// Interop cases 2 and 11 (issue 14): every compression (lz4, lzma, zstd, brotli) with no encryption, with libsodium
// and with OpenPGP, both ways: a WAL segment pushed by one tool is fetched byte-identical by the other, and an object
// put by one is got by the other. A flipped byte in an object written by one tool is reported as corrupt by the other.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIRECTIONS, REFERENCE, ok, run } from './harness.ts';

const skip = REFERENCE.pg ? false : 'WALG_REFERENCE_PG is not set';
const CODECS = { lz4: 'lz4', lzma: 'lzma', zstd: 'zst', brotli: 'br' } as const;
const SEGMENT = '000000010000000000000007';

let dir: string;
let pgpKey: string;
let segment: Buffer;

/** A WAL-like segment: compressible pages with some noise, 16 MiB. */
function makeSegment(): Buffer {
  const page = Buffer.alloc(8192);
  const out: Buffer[] = [];
  for (let i = 0; i < 2048; i++) {
    page.fill(i & 0xff, 0, 4096);
    randomBytes(512).copy(page, 4096);
    out.push(Buffer.from(page));
  }
  return Buffer.concat(out);
}

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'walg-interop-codecs-'));
  const gnupg = join(dir, 'gnupg');
  mkdirSync(gnupg, { mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: gnupg };
  execFileSync('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'interop <interop@test>', 'rsa2048', 'sign', 'never'], { env, stdio: 'ignore' });
  const fpr = /fpr:+([0-9A-F]+):/.exec(execFileSync('gpg', ['--batch', '--with-colons', '--list-secret-keys', 'interop@test'], { env }).toString())![1]!;
  execFileSync('gpg', ['--batch', '--passphrase', '', '--quick-add-key', fpr, 'rsa2048', 'encr', 'never'], { env, stdio: 'ignore' });
  pgpKey = join(dir, 'key.asc');
  writeFileSync(pgpKey, execFileSync('gpg', ['--armor', '--export-secret-keys', 'interop@test'], { env }));
  segment = makeSegment();
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

const CRYPTO = {
  none: (): Record<string, string> => ({}),
  libsodium: (): Record<string, string> => ({ WALG_LIBSODIUM_KEY: Buffer.alloc(32, 7).toString('base64'), WALG_LIBSODIUM_KEY_TRANSFORM: 'base64' }),
  openpgp: (): Record<string, string> => ({ WALG_PGP_KEY_PATH: pgpKey }),
};

for (const [writer, reader] of DIRECTIONS) {
  describe(`${writer.name} writes, ${reader.name} reads: every codec x encryption`, { skip }, () => {
    for (const codec of Object.keys(CODECS) as Array<keyof typeof CODECS>) {
      for (const crypto of Object.keys(CRYPTO) as Array<keyof typeof CRYPTO>) {
        test(`${codec} + ${crypto}: wal-push/wal-fetch and st put/get`, async () => {
          const work = mkdtempSync(join(dir, `${writer.name}-${codec}-${crypto}-`));
          mkdirSync(join(work, 'store'));
          mkdirSync(join(work, 'pg_wal', 'archive_status'), { recursive: true });
          const walFile = join(work, 'pg_wal', SEGMENT);
          writeFileSync(walFile, segment);
          const cfg = join(work, 'walg.json');
          writeFileSync(cfg, JSON.stringify({ WALG_FILE_PREFIX: join(work, 'store'), WALG_COMPRESSION_METHOD: codec, ...CRYPTO[crypto]() }));
          await ok(writer, cfg, ['wal-push', walFile]);
          assert.deepEqual(readdirSync(join(work, 'store', 'wal_005')), [`${SEGMENT}.${CODECS[codec]}`]);
          await ok(reader, cfg, ['wal-fetch', SEGMENT, join(work, 'fetched')]);
          assert.ok(readFileSync(join(work, 'fetched')).equals(segment), 'the fetched segment is byte-identical');

          const small = Buffer.concat([Buffer.from('interop object\n'), randomBytes(70_000), Buffer.alloc(100_000, 3)]);
          writeFileSync(join(work, 'obj'), small);
          await ok(writer, cfg, ['st', 'put', join(work, 'obj'), 'folder/obj']);
          await ok(reader, cfg, ['st', 'get', `folder/obj.${CODECS[codec]}`, join(work, 'got')]);
          assert.ok(readFileSync(join(work, 'got')).equals(small), 'st get returns the bytes st put stored');
        });
      }
    }

    for (const crypto of ['none', 'libsodium', 'openpgp'] as const) {
      test(`a flipped byte in a ${crypto} WAL object written by ${writer.name} is reported by ${reader.name}`, async () => {
        const work = mkdtempSync(join(dir, `flip-${writer.name}-${crypto}-`));
        mkdirSync(join(work, 'store'));
        mkdirSync(join(work, 'pg_wal'), { recursive: true });
        const walFile = join(work, 'pg_wal', SEGMENT);
        writeFileSync(walFile, segment);
        const cfg = join(work, 'walg.json');
        writeFileSync(cfg, JSON.stringify({ WALG_FILE_PREFIX: join(work, 'store'), WALG_COMPRESSION_METHOD: 'lz4', ...CRYPTO[crypto]() }));
        await ok(writer, cfg, ['wal-push', walFile]);
        const obj = join(work, 'store', 'wal_005', `${SEGMENT}.lz4`);
        const bytes = readFileSync(obj);
        bytes[Math.floor(bytes.length / 2)]! ^= 0x40;
        writeFileSync(obj, bytes);
        const r = await run(reader, cfg, ['wal-fetch', SEGMENT, join(work, 'fetched')]);
        assert.notEqual(r.code, 0, `${reader.name} must not accept a corrupted object:\n${r.stderr}`);
        assert.notEqual(r.code, 74, 'a corrupt object is not a missing one');
        let fetched: Buffer | undefined;
        try { fetched = readFileSync(join(work, 'fetched')); } catch { /* nothing written: fine */ }
        assert.ok(!fetched || !fetched.equals(segment) || fetched.length === 0, 'no corrupted segment left as the result');
        if (reader.name === 'ours') assert.match(r.stderr, /ERROR: .*(corrupt|checksum|authentication|decrypt|invalid)/i);
      });
    }
  });
}

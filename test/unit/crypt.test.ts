// Tests for src/pipeline/crypt: the libsodium secretstream framing (checked by an independent decoder built
// on libsodium-wrappers) and what OpenPGP checks without gpg. OpenPGP interoperability with the real gpg binary
// (Debian package gnupg) is in test/integration/crypt-gpg.test.ts.

import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sodium from 'libsodium-wrappers';
import {
  createLibsodiumCrypter,
  libsodiumKeyFromSettings,
  LIBSODIUM_CHUNK,
  LIBSODIUM_MESSAGE,
  LIBSODIUM_HEADER,
} from '../../src/pipeline/crypt/libsodium.ts';
import { createOpenPgpCrypter } from '../../src/pipeline/crypt/openpgp.ts';
import { ConfigError, CorruptObjectError, DecryptionError } from '../../src/core/errors.ts';
import { run } from '../helpers/stream.ts';


const TAG_MESSAGE = 0;
const TAG_FINAL = 3;

/**
 * Reads a WAL-G libsodium object without any code from the module under test: 24-byte header, then
 * 8209-byte messages, the last one shorter. Returns the plaintext and the tag sequence.
 */
function independentDecode(key: Buffer, object: Buffer): { plain: Buffer; tags: number[] } {
  assert.ok(object.length >= 24 + 17, 'object shorter than header + one empty message');
  const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(object.subarray(0, 24), key);
  const tags: number[] = [];
  const parts: Buffer[] = [];
  let off = 24;
  while (off < object.length) {
    const len = Math.min(8209, object.length - off);
    const res = sodium.crypto_secretstream_xchacha20poly1305_pull(state, object.subarray(off, off + len), null);
    assert.ok(res, `message at offset ${off} failed to authenticate`);
    tags.push(res.tag);
    parts.push(Buffer.from(res.message));
    off += len;
  }
  return { plain: Buffer.concat(parts), tags };
}

/** Builds an object the way WAL-G's writer does, with libsodium-wrappers, optionally with wrong tags. */
function independentEncode(key: Buffer, plain: Buffer, opts: { finalTag?: number; lastFull?: boolean } = {}): Buffer {
  const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
  const out: Uint8Array[] = [header];
  let off = 0;
  const stop = opts.lastFull ? plain.length - 8192 : plain.length;
  while (plain.length - off >= 8192 && off < stop) {
    out.push(sodium.crypto_secretstream_xchacha20poly1305_push(state, plain.subarray(off, off + 8192), null, TAG_MESSAGE));
    off += 8192;
  }
  out.push(sodium.crypto_secretstream_xchacha20poly1305_push(state, plain.subarray(off), null, opts.finalTag ?? TAG_FINAL));
  return Buffer.concat(out);
}

describe('libsodium secretstream', () => {
  const key = randomBytes(32);
  const crypter = createLibsodiumCrypter(key);

  before(async () => { await sodium.ready; });

  test('framing constants match WAL-G', () => {
    assert.equal(LIBSODIUM_CHUNK, 8192);
    assert.equal(LIBSODIUM_MESSAGE, 8209);
    assert.equal(LIBSODIUM_HEADER, 24);
  });

  for (const n of [0, 1, 8191, 8192, 8193, 3 * 8192, 1 << 20]) {
    test(`round trip and exact framing for ${n} bytes`, async () => {
      const plain = randomBytes(n);
      // Output must not depend on how the input is split into writes.
      for (const piece of [0, 1000, 8192, 8209, 65536]) {
        if (piece === 1000 && n > 100_000) continue; // keeps the run short; 8192/8209/64K cover splitting
        const object = await run(crypter.encrypt(), plain, piece);
        assert.equal(object.length, 24 + 8209 * Math.floor(n / 8192) + 17 + (n % 8192), `length for piece ${piece}`);
        const { plain: decoded, tags } = independentDecode(key, object);
        assert.ok(decoded.equals(plain), 'independent decoder returns the plaintext');
        const expected = [...Array<number>(Math.floor(n / 8192)).fill(TAG_MESSAGE), TAG_FINAL];
        assert.deepEqual(tags, expected, 'tags: MESSAGE for each full chunk, one FINAL at the end');
        for (const dpiece of [0, 1 + (n % 7), 8209, 10_000]) {
          if (dpiece > 0 && dpiece < 100 && n > 100_000) continue;
          const back = await run(crypter.decrypt(), object, dpiece);
          assert.ok(back.equals(plain), `decrypt with piece ${dpiece}`);
        }
      }
    });
  }

  test('decrypts objects written by an independent WAL-G-style writer', async () => {
    for (const n of [0, 5, 8192, 20000]) {
      const plain = randomBytes(n);
      const back = await run(crypter.decrypt(), independentEncode(key, plain), 777);
      assert.ok(back.equals(plain));
    }
  });

  test('wrong key -> DecryptionError', async () => {
    const object = await run(crypter.encrypt(), randomBytes(20000));
    const other = createLibsodiumCrypter(randomBytes(32));
    await assert.rejects(run(other.decrypt(), object), (e: unknown) => e instanceof DecryptionError && /wrong key or corrupted data/.test(e.message));
  });

  test('flipped byte -> DecryptionError', async () => {
    const object = await run(crypter.encrypt(), randomBytes(30000));
    for (const pos of [30, 24 + 8209 + 100, object.length - 1]) {
      const bad = Buffer.from(object);
      bad[pos] ^= 0x01;
      await assert.rejects(run(crypter.decrypt(), bad), DecryptionError, `flip at ${pos}`);
    }
    const badHeader = Buffer.from(object);
    badHeader[3] ^= 0x80; // a different header derives a different subkey: the first MAC fails
    await assert.rejects(run(crypter.decrypt(), badHeader), DecryptionError);
  });

  test('truncated objects are rejected', async () => {
    const object = await run(crypter.encrypt(), randomBytes(3 * 8192 + 100));
    // On a message boundary (the FINAL message lost) and inside the header: CorruptObjectError.
    for (const cut of [0, 10, 24, 24 + 8209, 24 + 2 * 8209, 24 + 3 * 8209, 24 + 3 * 8209 + 16]) {
      await assert.rejects(run(crypter.decrypt(), object.subarray(0, cut)), CorruptObjectError, `cut at ${cut}`);
    }
    // Inside a message the MAC cannot verify: still a failure, never silent short output.
    for (const cut of [24 + 100, 24 + 8209 + 8000, object.length - 1]) {
      await assert.rejects(run(crypter.decrypt(), object.subarray(0, cut)), (e: unknown) =>
        e instanceof DecryptionError || e instanceof CorruptObjectError, `cut at ${cut}`);
    }
  });

  test('FINAL inside a full-length message, or a stream without FINAL -> CorruptObjectError', async () => {
    const plain = randomBytes(2 * 8192);
    await assert.rejects(run(crypter.decrypt(), independentEncode(key, plain, { lastFull: true, finalTag: TAG_FINAL })), CorruptObjectError);
    await assert.rejects(run(crypter.decrypt(), independentEncode(key, randomBytes(100), { finalTag: TAG_MESSAGE })), CorruptObjectError);
  });

  test('key transforms', () => {
    const raw32 = 'abcdefghijklmnopqrstuvwxyz012345';
    assert.ok(libsodiumKeyFromSettings({ key: raw32 }).equals(Buffer.from(raw32)));
    // none: 25..31 bytes are zero-padded, longer keys truncated to 32.
    const raw25 = raw32.slice(0, 25);
    assert.ok(libsodiumKeyFromSettings({ key: raw25, transform: 'none' }).equals(Buffer.concat([Buffer.from(raw25), Buffer.alloc(7)])));
    assert.ok(libsodiumKeyFromSettings({ key: raw32 + 'tail' }).equals(Buffer.from(raw32)));
    assert.throws(() => libsodiumKeyFromSettings({ key: raw32.slice(0, 24) }), ConfigError);

    const bytes = randomBytes(32);
    assert.ok(libsodiumKeyFromSettings({ key: bytes.toString('hex'), transform: 'hex' }).equals(bytes));
    assert.ok(libsodiumKeyFromSettings({ key: bytes.toString('hex').toUpperCase(), transform: 'hex' }).equals(bytes));
    assert.throws(() => libsodiumKeyFromSettings({ key: bytes.toString('hex').slice(0, 62), transform: 'hex' }), ConfigError);
    assert.throws(() => libsodiumKeyFromSettings({ key: bytes.toString('hex').slice(0, 63), transform: 'hex' }), ConfigError);
    assert.throws(() => libsodiumKeyFromSettings({ key: 'zz' + bytes.toString('hex').slice(2), transform: 'hex' }), ConfigError);

    assert.ok(libsodiumKeyFromSettings({ key: bytes.toString('base64'), transform: 'base64' }).equals(bytes));
    assert.throws(() => libsodiumKeyFromSettings({ key: randomBytes(31).toString('base64'), transform: 'base64' }), ConfigError);
    assert.throws(() => libsodiumKeyFromSettings({ key: bytes.toString('base64').replace(/=+$/, ''), transform: 'base64' }), ConfigError);
    // URL-safe alphabet is not StdEncoding: 0xfb bytes encode to '+'/'/' there and '-'/'_' in base64url.
    const fb = Buffer.alloc(32, 0xfb);
    assert.ok(libsodiumKeyFromSettings({ key: fb.toString('base64'), transform: 'base64' }).equals(fb));
    assert.throws(() => libsodiumKeyFromSettings({ key: fb.toString('base64url') + '=', transform: 'base64' }), ConfigError);

    assert.throws(() => libsodiumKeyFromSettings({ key: raw32, transform: 'rot13' as 'none' }), ConfigError);
    assert.throws(() => libsodiumKeyFromSettings({}), ConfigError);

    const secret = 'hunter2-but-longer-than-25-bytes';
    try {
      libsodiumKeyFromSettings({ key: secret, transform: 'hex' });
      assert.fail('expected ConfigError');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.ok(!e.message.includes(secret), 'error message must not carry key material');
    }
    assert.throws(() => createLibsodiumCrypter(Buffer.alloc(16)), ConfigError);
  });

  test('key path: content trimmed of surrounding whitespace, then transformed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'walg-crypt-'));
    try {
      const bytes = randomBytes(32);
      const p = join(dir, 'key');
      writeFileSync(p, `  ${bytes.toString('hex')}\r\n\n`);
      assert.ok(libsodiumKeyFromSettings({ keyPath: p, transform: 'hex' }).equals(bytes));
      writeFileSync(p, `${bytes.toString('base64')}\n`);
      assert.ok(libsodiumKeyFromSettings({ keyPath: p, transform: 'base64' }).equals(bytes));
      writeFileSync(p, '\tabcdefghijklmnopqrstuvwxyz\n'); // 26 bytes after trimming
      assert.ok(libsodiumKeyFromSettings({ keyPath: p }).equals(Buffer.concat([Buffer.from('abcdefghijklmnopqrstuvwxyz'), Buffer.alloc(6)])));
      writeFileSync(p, '\u00a0short key\u00a0\n');
      assert.throws(() => libsodiumKeyFromSettings({ keyPath: p }), ConfigError);
      // key wins over keyPath, as in WAL-G.
      assert.ok(libsodiumKeyFromSettings({ key: bytes.toString('hex'), keyPath: join(dir, 'missing'), transform: 'hex' }).equals(bytes));
      assert.throws(() => libsodiumKeyFromSettings({ keyPath: join(dir, 'missing') }), ConfigError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('OpenPGP without gpg', () => {
  test('a bad key ring is a ConfigError', async () => {
    await assert.rejects(createOpenPgpCrypter({ armoredKey: 'not a key' }).ready(), ConfigError);
    await assert.rejects(run(createOpenPgpCrypter({ armoredKey: 'not a key' }).encrypt(), Buffer.from('x')), ConfigError);
  });
});

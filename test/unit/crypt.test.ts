// Tests for src/pipeline/crypt: the libsodium secretstream framing (checked by an independent decoder built
// on libsodium-wrappers) and OpenPGP interoperability with the real gpg binary (Debian package gnupg).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes, createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
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

/** Feeds `input` (in `pieces` of the given size, or whole) through `stream` and collects the output. */
async function run(stream: Duplex, input: Buffer, piece = 0): Promise<Buffer> {
  const parts: Buffer[] = [];
  async function* source(): AsyncGenerator<Buffer> {
    if (piece <= 0) { if (input.length) yield input; return; }
    for (let i = 0; i < input.length; i += piece) yield input.subarray(i, i + piece);
  }
  await pipeline(Readable.from(source()), stream, new Writable({
    write(chunk: Buffer, _e, cb) { parts.push(chunk); cb(); },
  }));
  return Buffer.concat(parts);
}

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

// ----------------------------------------------------------------------------------------------------
// OpenPGP

const hasGpg = spawnSync('gpg', ['--version']).status === 0;

/**
 * Minimal OpenPGP packet-header walker (RFC 4880 §4.2) over the top-level packets: tag, first body byte
 * (the version for PKESK/SEIPD) and where the body starts. Stops at the first partial-length packet, since
 * the SEIPD packet runs to the end of the message.
 */
function topLevelPackets(msg: Buffer): Array<{ tag: number; version: number; body: number }> {
  const out: Array<{ tag: number; version: number; body: number }> = [];
  let off = 0;
  while (off < msg.length) {
    const ctb = msg[off++];
    assert.ok(ctb & 0x80, 'packet header bit');
    let tag: number;
    let len: number;
    let partial = false;
    if (ctb & 0x40) {
      tag = ctb & 0x3f;
      const o = msg[off++];
      if (o < 192) len = o;
      else if (o < 224) { len = ((o - 192) << 8) + msg[off++] + 192; }
      else if (o === 255) { len = msg.readUInt32BE(off); off += 4; }
      else { len = 1 << (o & 0x1f); partial = true; }
    } else {
      tag = (ctb >> 2) & 0x0f;
      const lt = ctb & 3;
      if (lt === 0) len = msg[off++];
      else if (lt === 1) { len = msg.readUInt16BE(off); off += 2; }
      else if (lt === 2) { len = msg.readUInt32BE(off); off += 4; }
      else { len = msg.length - off; }
    }
    out.push({ tag, version: msg[off], body: off });
    if (partial) break;
    off += len;
  }
  return out;
}

describe('OpenPGP', { skip: hasGpg ? false : 'gpg not installed (Debian package gnupg)' }, () => {
  let home = '';
  const keys = { edPub: '', edSec: '', rsaPub: '', rsaSec: '', bothPub: '' };
  const RSA_PASS = 'correct horse battery staple';
  let plain = Buffer.alloc(0);

  const gpg = (args: string[], input?: Buffer): Buffer =>
    execFileSync('gpg', ['--homedir', home, '--batch', '--quiet', '--yes', '--no-tty', '--trust-model', 'always', ...args], {
      input,
      maxBuffer: 256 << 20,
      stdio: ['pipe', 'pipe', 'pipe'],
    });

  before(() => {
    home = mkdtempSync(join(tmpdir(), 'walg-gpg-'));
    // Batch key generation needs the passphrase through loopback pinentry (no tty, no pinentry program).
    gpg(['--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', 'Ed Test <ed@example.com>', 'future-default', 'default', 'never']);
    gpg(['--pinentry-mode', 'loopback', '--passphrase', RSA_PASS, '--quick-gen-key', 'Rsa Test <rsa@example.com>', 'rsa2048', 'sign,cert', 'never']);
    const fpr = gpg(['--with-colons', '--list-keys', 'rsa@example.com']).toString().split('\n').find((l) => l.startsWith('fpr:'))!.split(':')[9];
    gpg(['--pinentry-mode', 'loopback', '--passphrase', RSA_PASS, '--quick-add-key', fpr, 'rsa2048', 'encr', 'never']);
    keys.edPub = gpg(['--armor', '--export', 'ed@example.com']).toString();
    keys.edSec = gpg(['--armor', '--export-secret-keys', 'ed@example.com']).toString();
    keys.rsaPub = gpg(['--armor', '--export', 'rsa@example.com']).toString();
    keys.rsaSec = gpg(['--pinentry-mode', 'loopback', '--passphrase', RSA_PASS, '--armor', '--export-secret-keys', 'rsa@example.com']).toString();
    keys.bothPub = gpg(['--armor', '--export', 'ed@example.com', 'rsa@example.com']).toString();
    plain = randomBytes(3 * 1024 * 1024 + 12345);
  });

  after(() => {
    if (!home) return;
    spawnSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
    rmSync(home, { recursive: true, force: true });
  });

  const gpgDecrypt = (msg: Buffer, pass?: string): Buffer =>
    gpg([...(pass ? ['--pinentry-mode', 'loopback', '--passphrase', pass] : []), '--decrypt'], msg);

  test('our encryption: PKESK v3 then SEIPD v1, no AEAD, and gpg decrypts it byte for byte', async () => {
    for (const [pub, pass] of [[keys.edPub, undefined], [keys.rsaPub, RSA_PASS]] as const) {
      const msg = await run(createOpenPgpCrypter({ armoredKey: pub }).encrypt(), plain, 100_000);
      const packets = topLevelPackets(msg);
      assert.deepEqual(packets.map((p) => p.tag), [1, 18], 'PKESK then SEIPD, nothing else');
      assert.equal(packets[0].version, 3, 'PKESK v3');
      assert.equal(packets[1].version, 1, 'SEIPD v1 (MDC), not v2/AEAD');
      const out = gpgDecrypt(msg, pass);
      assert.ok(out.equals(plain), 'gpg --decrypt returns the plaintext');
    }
  });

  test('our encryption is uncompressed and binary (checked by gpg --list-packets)', async () => {
    const msg = await run(createOpenPgpCrypter({ armoredKey: keys.edPub }).encrypt(), Buffer.from('hello wal-g'));
    assert.notEqual(msg.subarray(0, 5).toString('latin1'), '-----', 'not armored');
    const listing = execFileSync('gpg', ['--homedir', home, '--batch', '--list-packets'], { input: msg, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
    assert.match(listing, /:literal data packet:/);
    assert.doesNotMatch(listing, /:compressed packet:/);
    assert.doesNotMatch(listing, /aead/i);
  });

  test('keys advertising SEIPDv2 still get SEIPD v1', async () => {
    const openpgp = await import('openpgp');
    const { publicKey } = await openpgp.generateKey({
      type: 'curve25519', userIDs: [{ name: 'aead', email: 'aead@example.com' }], format: 'armored', config: { aeadProtect: true },
    });
    const msg = await run(createOpenPgpCrypter({ armoredKey: publicKey }).encrypt(), randomBytes(5000));
    const packets = topLevelPackets(msg);
    assert.deepEqual(packets.map((p) => [p.tag, p.version]), [[1, 3], [18, 1]]);
  });

  test('one PKESK per key in the ring; each private key decrypts', async () => {
    const msg = await run(createOpenPgpCrypter({ armoredKey: keys.bothPub }).encrypt(), plain);
    assert.deepEqual(topLevelPackets(msg).map((p) => p.tag), [1, 1, 18]);
    assert.ok((await run(createOpenPgpCrypter({ armoredKey: keys.edSec }).decrypt(), msg)).equals(plain));
    assert.ok((await run(createOpenPgpCrypter({ armoredKey: keys.rsaSec, passphrase: RSA_PASS }).decrypt(), msg)).equals(plain));
  });

  test('we decrypt gpg --encrypt output (uncompressed, default compression, bzip2)', async () => {
    const ed = createOpenPgpCrypter({ armoredKey: keys.edSec });
    const rsa = createOpenPgpCrypter({ armoredKey: keys.rsaSec, passphrase: RSA_PASS });
    for (const compress of [['--compress-algo', 'none'], [], ['--compress-algo', 'bzip2']]) {
      const forEd = gpg([...compress, '--encrypt', '-r', 'ed@example.com'], plain);
      const listing = gpg(['--list-packets'], forEd).toString();
      assert.equal(/:compressed packet:/.test(listing), compress[1] !== 'none', 'gpg compressed unless told not to');
      assert.ok((await run(ed.decrypt(), forEd, 65536)).equals(plain), `ed25519 ${compress.join(' ') || 'default compression'}`);
      const forRsa = gpg([...compress, '--encrypt', '-r', 'rsa@example.com'], plain);
      assert.ok((await run(rsa.decrypt(), forRsa, 65536)).equals(plain), `rsa ${compress.join(' ') || 'default compression'}`);
    }
  });

  test('literal \\n sequences in WALG_PGP_KEY become newlines', async () => {
    const oneLine = keys.edSec.replace(/\r?\n/g, '\\n');
    assert.ok(!oneLine.includes('\n'));
    const c = createOpenPgpCrypter({ armoredKey: oneLine });
    await c.ready();
    const msg = await run(c.encrypt(), Buffer.from('x'));
    assert.equal((await run(c.decrypt(), msg)).toString(), 'x');
  });

  test('wrong key, public-only key, missing or wrong passphrase -> DecryptionError', async () => {
    const forEd = await run(createOpenPgpCrypter({ armoredKey: keys.edPub }).encrypt(), randomBytes(1000));
    await assert.rejects(run(createOpenPgpCrypter({ armoredKey: keys.rsaSec, passphrase: RSA_PASS }).decrypt(), forEd), DecryptionError);
    await assert.rejects(run(createOpenPgpCrypter({ armoredKey: keys.edPub }).decrypt(), forEd),
      (e: unknown) => e instanceof DecryptionError && /public only/.test(e.message));
    const forRsa = gpg(['--encrypt', '-r', 'rsa@example.com'], Buffer.from('data'));
    await assert.rejects(run(createOpenPgpCrypter({ armoredKey: keys.rsaSec }).decrypt(), forRsa),
      (e: unknown) => e instanceof DecryptionError && /passphrase/.test(e.message));
    await assert.rejects(run(createOpenPgpCrypter({ armoredKey: keys.rsaSec, passphrase: 'nope' }).decrypt(), forRsa),
      (e: unknown) => e instanceof DecryptionError && !e.message.includes('nope'));
  });

  test('tampering makes the stream fail at the end (MDC); truncation is CorruptObjectError', async () => {
    const c = createOpenPgpCrypter({ armoredKey: keys.edSec });
    const msg = await run(c.encrypt(), plain);
    for (const pos of [msg.length >> 1, msg.length - 3]) {
      const bad = Buffer.from(msg);
      bad[pos] ^= 0x40;
      await assert.rejects(run(c.decrypt(), bad), DecryptionError, `flip at ${pos}`);
    }
    for (const cut of [40, 500, msg.length >> 1, msg.length - 1]) {
      await assert.rejects(run(c.decrypt(), msg.subarray(0, cut)), CorruptObjectError, `cut at ${cut}`);
    }
  });

  test('flips in the encrypted literal-packet header fail with DecryptionError, never hang', async (t) => {
    const c = createOpenPgpCrypter({ armoredKey: keys.edSec, stallTimeoutMs: 300 });
    // Big enough that the ciphertext is still streaming in when the inner header fails to parse: that is
    // the case where openpgp.js 6.3 deadlocks (often for flips of the literal packet's length octet) and
    // only the stall watchdog ends the stream.
    const msg = await run(createOpenPgpCrypter({ armoredKey: keys.edPub }).encrypt(), plain);
    // SEIPD body = version byte, then 16+2 bytes of CFB prefix, then the inner packet header.
    const seipd = topLevelPackets(msg)[1];
    assert.equal(seipd.tag, 18);
    const inner = seipd.body + 1 + 18;
    const flips: Array<[number, number]> = [];
    for (let pos = inner; pos < inner + 6; pos++) flips.push([pos, 0x55]);
    for (const x of [2, 3, 4, 5, 0x30, 0x80]) flips.push([inner + 1, x]);
    let stalls = 0;
    for (const [pos, x] of flips) {
      const bad = Buffer.from(msg);
      bad[pos] ^= x;
      await assert.rejects(run(c.decrypt(), bad, 65536), (e: unknown) => {
        assert.ok(e instanceof DecryptionError, `flip ${x} at ${pos}: ${String(e)}`);
        if (/stalled/.test(e.message)) stalls++;
        return true;
      });
    }
    t.diagnostic(`${stalls} of ${flips.length} corrupt streams were ended by the stall watchdog`);
  });

  test('slow producers and slow consumers do not trip the stall watchdog', async () => {
    const c = createOpenPgpCrypter({ armoredKey: keys.edSec, stallTimeoutMs: 100 });
    const data = randomBytes(1 << 20);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    async function* slow(buf: Buffer): AsyncGenerator<Buffer> {
      for (let i = 0; i < buf.length; i += 65536) {
        if (i % (4 * 65536) === 0) await sleep(250);
        yield buf.subarray(i, i + 65536);
      }
    }
    const enc: Buffer[] = [];
    await pipeline(slow(data), c.encrypt(), new Writable({ write(ch: Buffer, _e, cb) { enc.push(ch); cb(); } }));
    const parts: Buffer[] = [];
    let n = 0;
    await pipeline(Readable.from([Buffer.concat(enc)]), c.decrypt(), new Writable({
      highWaterMark: 1,
      write(ch: Buffer, _e, cb) { parts.push(ch); if (n++ % 4 === 0) setTimeout(cb, 250); else cb(); },
    }));
    assert.ok(Buffer.concat(parts).equals(data));
  });

  test('empty input: ours -> gpg and gpg -> ours; an empty object is CorruptObjectError', async () => {
    const msg = await run(createOpenPgpCrypter({ armoredKey: keys.edPub }).encrypt(), Buffer.alloc(0));
    assert.equal(gpgDecrypt(msg).length, 0);
    const fromGpg = gpg(['--encrypt', '-r', 'ed@example.com'], Buffer.alloc(0));
    assert.equal((await run(createOpenPgpCrypter({ armoredKey: keys.edSec }).decrypt(), fromGpg)).length, 0);
    await assert.rejects(run(createOpenPgpCrypter({ armoredKey: keys.edSec }).decrypt(), Buffer.alloc(0)), CorruptObjectError);
  });

  test('a bad key ring is a ConfigError', async () => {
    await assert.rejects(createOpenPgpCrypter({ armoredKey: 'not a key' }).ready(), ConfigError);
    await assert.rejects(run(createOpenPgpCrypter({ armoredKey: 'not a key' }).encrypt(), Buffer.from('x')), ConfigError);
  });

  test('300 MB streams through encrypt -> decrypt with bounded memory', async () => {
    const c = createOpenPgpCrypter({ armoredKey: keys.edSec });
    await c.ready();
    const block = randomBytes(1 << 20);
    const blocks = 300;
    async function* source(): AsyncGenerator<Buffer> { for (let i = 0; i < blocks; i++) yield block; }
    const expected = createHash('sha256');
    for (let i = 0; i < blocks; i++) expected.update(block);
    const got = createHash('sha256');
    let total = 0;
    globalThis.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 10);
    try {
      await pipeline(Readable.from(source()), c.encrypt(), c.decrypt(), new Writable({
        write(chunk: Buffer, _e, cb) { got.update(chunk); total += chunk.length; cb(); },
      }));
    } finally {
      clearInterval(timer);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    assert.equal(total, blocks << 20);
    assert.equal(got.digest('hex'), expected.digest('hex'));
    const growthMb = (peak - base) / (1 << 20);
    assert.ok(growthMb < 150, `RSS grew by ${growthMb.toFixed(0)} MB`);
  });
});

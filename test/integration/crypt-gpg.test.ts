// OpenPGP interoperability of src/pipeline/crypt/openpgp.ts with the real gpg binary (Debian package gnupg): keys
// made by gpg, our messages decrypted by gpg and gpg's by ours, packet layout, tampering and bounded memory. What
// needs no gpg is in test/unit/crypt.test.ts.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes, createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOpenPgpCrypter } from '../../src/pipeline/crypt/openpgp.ts';
import { CorruptObjectError, DecryptionError } from '../../src/core/errors.ts';
import { run } from '../helpers/stream.ts';


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

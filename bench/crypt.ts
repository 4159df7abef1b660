// Throughput of our crypters (libsodium secretstream, OpenPGP via openpgp.js) against gpg on the same file.
// Usage: node bench/crypt.ts [--size-mb 256] [--pgp-size-mb 64]; prints a markdown table and writes
// bench/results/crypt.md. Files live in a temp dir (page cache warm), so this measures CPU, not disks.

import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { tmpdir, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLibsodiumCrypter } from '../src/pipeline/crypt/libsodium.ts';
import { createOpenPgpCrypter } from '../src/pipeline/crypt/openpgp.ts';
import type { Duplex } from 'node:stream';

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '256' },
    'pgp-size-mb': { type: 'string', default: '64' },
  },
});
const sizeMb = Number(values['size-mb']);
const pgpSizeMb = Number(values['pgp-size-mb']);

interface Row { crypter: string; op: string; mb: number; seconds: number }
const rows: Row[] = [];

/** Writes `mb` MiB of random bytes to path in 1 MiB blocks (random so no layer can compress it). */
function makeFile(path: string, mb: number): void {
  const fd = openSync(path, 'w');
  const block = Buffer.allocUnsafe(1 << 20);
  for (let i = 0; i < mb; i++) { randomFillSync(block); writeSync(fd, block); }
  closeSync(fd);
}

async function timeStream(label: string, op: string, mb: number, src: string, dst: string, stream: Duplex): Promise<void> {
  const t0 = performance.now();
  await pipeline(createReadStream(src, { highWaterMark: 1 << 20 }), stream, createWriteStream(dst));
  rows.push({ crypter: label, op, mb, seconds: (performance.now() - t0) / 1000 });
}

function timeGpg(op: string, mb: number, home: string, args: string[]): void {
  const t0 = performance.now();
  const r = spawnSync('gpg', ['--homedir', home, '--batch', '--quiet', '--yes', '--trust-model', 'always', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`gpg ${op} failed: ${r.stderr.toString().trim()}`);
  rows.push({ crypter: 'gpg (compression off)', op, mb, seconds: (performance.now() - t0) / 1000 });
}

function sameBytes(a: string, b: string): boolean {
  return spawnSync('cmp', ['-s', a, b]).status === 0;
}

const dir = mkdtempSync(join(tmpdir(), 'walg-bench-crypt-'));
try {
  const big = join(dir, 'big.bin');
  const small = join(dir, 'small.bin');
  makeFile(big, sizeMb);
  makeFile(small, pgpSizeMb);

  // libsodium
  const sodium = createLibsodiumCrypter(randomBytes(32));
  await timeStream('libsodium (sodium-native)', 'encrypt', sizeMb, big, join(dir, 'big.sodium'), sodium.encrypt());
  await timeStream('libsodium (sodium-native)', 'decrypt', sizeMb, join(dir, 'big.sodium'), join(dir, 'big.sodium.out'), sodium.decrypt());
  if (!sameBytes(big, join(dir, 'big.sodium.out'))) throw new Error('libsodium round trip mismatch');

  // OpenPGP: one ed25519/cv25519 key from gpg, used by both us and gpg.
  const hasGpg = spawnSync('gpg', ['--version']).status === 0;
  if (hasGpg) {
    const home = join(dir, 'gnupg');
    mkdirSync(home, { mode: 0o700 });
    const gpg = (args: string[]) => spawnSync('gpg', ['--homedir', home, '--batch', '--quiet', '--yes', ...args], { maxBuffer: 1 << 24 });
    gpg(['--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', 'Bench <bench@example.com>', 'future-default', 'default', 'never']);
    const secret = gpg(['--armor', '--export-secret-keys', 'bench@example.com']).stdout.toString();
    const pgp = createOpenPgpCrypter({ armoredKey: secret });
    await pgp.ready();
    await timeStream('openpgp.js (SEIPD v1, AES)', 'encrypt', pgpSizeMb, small, join(dir, 'small.pgp'), pgp.encrypt());
    await timeStream('openpgp.js (SEIPD v1, AES)', 'decrypt', pgpSizeMb, join(dir, 'small.pgp'), join(dir, 'small.pgp.out'), pgp.decrypt());
    if (!sameBytes(small, join(dir, 'small.pgp.out'))) throw new Error('openpgp round trip mismatch');
    timeGpg('encrypt', pgpSizeMb, home, ['--compress-algo', 'none', '--encrypt', '-r', 'bench@example.com', '-o', join(dir, 'small.gpg'), small]);
    timeGpg('decrypt', pgpSizeMb, home, ['--output', join(dir, 'small.gpg.out'), '--decrypt', join(dir, 'small.gpg')]);
    if (!sameBytes(small, join(dir, 'small.gpg.out'))) throw new Error('gpg round trip mismatch');
    spawnSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
  } else {
    const pgp = createOpenPgpCrypter({
      armoredKey: (await (await import('openpgp')).generateKey({ type: 'curve25519', userIDs: [{ email: 'bench@example.com' }], format: 'armored' })).privateKey,
    });
    await timeStream('openpgp.js (SEIPD v1, AES)', 'encrypt', pgpSizeMb, small, join(dir, 'small.pgp'), pgp.encrypt());
    await timeStream('openpgp.js (SEIPD v1, AES)', 'decrypt', pgpSizeMb, join(dir, 'small.pgp'), join(dir, 'small.pgp.out'), pgp.decrypt());
  }

  const overhead = statSync(join(dir, 'big.sodium')).size - sizeMb * (1 << 20);
  const lines = [
    `# Crypter throughput`,
    ``,
    `Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} CPUs), ${new Date().toISOString().slice(0, 10)}.`,
    `Random input in a temp dir (page cache warm), file to file, one stream at a time. gpg: ${hasGpg ? spawnSync('gpg', ['--version']).stdout.toString().split('\n')[0] : 'not installed'}.`,
    ``,
    `| crypter | op | MiB | seconds | MiB/s |`,
    `|---|---|---:|---:|---:|`,
    ...rows.map((r) => `| ${r.crypter} | ${r.op} | ${r.mb} | ${r.seconds.toFixed(2)} | ${(r.mb / r.seconds).toFixed(0)} |`),
    ``,
    `libsodium ciphertext overhead for ${sizeMb} MiB: ${overhead} bytes (24 + 17 per 8192-byte chunk + 17).`,
    ``,
  ];
  const text = lines.join('\n');
  process.stdout.write(text);
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'crypt.md');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, text);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

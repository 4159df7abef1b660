// Bounded memory: a 2 GB object streams through `st put -s` and `st cat --decompress` (lz4 + libsodium, and zstd,
// whose encoder runs libzstd worker threads) of the single executable, byte for byte, with the peak RSS of each
// process recorded and kept under 300 MB; brotli on a quarter of the size (it codes at ~100 MB/s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, mkdirSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { ensureDist } from '../helpers/cli.ts';

const SIZE = Number(process.env.WALG_BIG_OBJECT_MB ?? 2048) * 1024 * 1024;
const LIMIT_MB = 300;
const dir = mkdtempSync(join(tmpdir(), 'walg-big-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** Reads VmHWM (peak resident set) of a running process, in MB. */
function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch { return 0; }
}

/** Half-compressible generator: a random 64 KiB block, then a repeated-text block, and so on. */
function source(size: number, hash: ReturnType<typeof createHash>): Readable {
  let sent = 0;
  const text = Buffer.from('INSERT INTO t VALUES (1, \'some row text\');\n'.repeat(1600)).subarray(0, 65536);
  return new Readable({
    highWaterMark: 1 << 20,
    read() {
      if (sent >= size) { this.push(null); return; }
      const b = (sent / 65536) % 2 === 0 ? randomBytes(65536) : text;
      const out = b.subarray(0, Math.min(b.length, size - sent));
      hash.update(out);
      sent += out.length;
      this.push(out);
    },
  });
}

function runTracked(bin: string, args: string[], env: Record<string, string>, stdin?: Readable, stdout?: Writable):
  Promise<{ code: number; stderr: string; peakMb: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let peak = 0;
    const timer = setInterval(() => { peak = Math.max(peak, peakRssMb(child.pid!)); }, 50);
    let stderr = '';
    child.stderr.on('data', (c) => { stderr += c; });
    const pumps: Promise<void>[] = [];
    if (stdin) pumps.push(pipeline(stdin, child.stdin)); else child.stdin.end();
    if (stdout) pumps.push(pipeline(child.stdout, stdout)); else child.stdout.resume();
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      Promise.allSettled(pumps).then(() => resolve({ code: code ?? -1, stderr, peakMb: peak }));
    });
  });
}

const CASES = [
  { label: 'lz4 + libsodium', method: 'lz4', ext: 'lz4', size: SIZE, crypt: true },
  { label: 'zstd', method: 'zstd', ext: 'zst', size: SIZE, crypt: false },
  { label: 'brotli', method: 'brotli', ext: 'br', size: SIZE / 4, crypt: false },
] as const;

for (const k of CASES) {
  test(`a ${k.size / 1048576} MB object (${k.label}) streams through put and get with peak RSS under ${LIMIT_MB} MB`, { timeout: 900_000 }, async (t) => {
    const bin = ensureDist();
    const store = join(dir, `store-${k.method}`);
    mkdirSync(store);
    const env: Record<string, string> = { WALG_FILE_PREFIX: store, WALG_COMPRESSION_METHOD: k.method };
    if (k.crypt) Object.assign(env, { WALG_LIBSODIUM_KEY: randomBytes(32).toString('hex'), WALG_LIBSODIUM_KEY_TRANSFORM: 'hex' });
    const inHash = createHash('sha256');
    const put = await runTracked(bin, ['st', 'put', '-s', 'big/object'], env, source(k.size, inHash));
    assert.equal(put.code, 0, put.stderr);
    const outHash = createHash('sha256');
    let outBytes = 0;
    const sink = new Writable({ write(c: Buffer, _e, cb) { outHash.update(c); outBytes += c.length; cb(); } });
    const get = await runTracked(bin, ['st', 'cat', ...(k.crypt ? ['--decrypt'] : []), '--decompress', `big/object.${k.ext}`], env, undefined, sink);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(outBytes, k.size);
    assert.equal(outHash.digest('hex'), inHash.digest('hex'));
    t.diagnostic(`| ${k.size / 1048576} MB, ${k.label} | put peak RSS ${put.peakMb.toFixed(0)} MB | get peak RSS ${get.peakMb.toFixed(0)} MB |`);
    assert.ok(put.peakMb > 0 && put.peakMb < LIMIT_MB, `put peak RSS ${put.peakMb} MB`);
    assert.ok(get.peakMb > 0 && get.peakMb < LIMIT_MB, `get peak RSS ${get.peakMb} MB`);
  });
}

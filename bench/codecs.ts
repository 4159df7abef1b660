// Throughput of our compressors (lz4, zstd, brotli, lzma) against the reference CLIs on the same file, same run, and of
// xxh32 (the LZ4 content checksum) on its own.
// Usage: node bench/codecs.ts [sizeMB]   (default 256; lzma uses a sample of sizeMB/32). Prints a markdown table and
// writes bench/results/codecs.md. Files live in .tmp/ (page cache warm), so this measures CPU, not disks.

import { closeSync, createReadStream, createWriteStream, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getCompressor } from '../src/pipeline/compress/index.ts';
import { LZMA_XZ_OPTIONS } from '../src/pipeline/compress/lzma.ts';
import { xxh32 } from '../src/pipeline/compress/lz4-frame.ts';
import type { Duplex } from 'node:stream';
import type { CompressionMethod } from '../src/pipeline/types.ts';

const MiB = 1024 * 1024;
const RUNS = 3;
const sizeMb = Number(process.argv[2] ?? 256);
if (!Number.isFinite(sizeMb) || sizeMb < 1) throw new Error('usage: node bench/codecs.ts [sizeMB]');
const lzmaMb = Math.max(1, Math.round(sizeMb / 32));

// ---------------------------------------------------------------------------------------------------------------
// Test data: 8 KiB pages shaped like a PostgreSQL heap file. Most pages hold tuples (header, small integers,
// increasing ids and timestamps, text from a vocabulary, free space), some are incompressible (TOAST-like
// compressed values) and a few are empty, so the mix compresses roughly like real table files.

let seed = 0x2545f491;
function rand(): number {
  seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
  return seed >>> 0;
}

const WORDS = ('customer order shipped pending returned priority urgent account balance invoice warehouse ' +
  'district payment credit delivery carrier quantity amount status region nation supplier comment').split(' ');

let rowId = 0;
let xmin = 1000;
let ts = 700_000_000_000_000n;

function heapPage(page: Buffer, lsn: bigint): void {
  page.fill(0);
  page.writeBigUInt64LE(lsn, 0);
  let lower = 24;
  let upper = 8192;
  const fill = 8192 - 8192 * 0.1; // fillfactor 90
  for (;;) {
    const text = Array.from({ length: 2 + (rand() % 6) }, () => WORDS[rand() % WORDS.length]).join(' ');
    const textLen = Buffer.byteLength(text);
    const len = 24 + 4 + 4 + 8 + 1 + textLen + 8;
    const start = (upper - len) & ~7;
    if (start - lower < 4 || 8192 - start > fill) break;
    upper = start;
    page.writeUInt32LE(xmin, upper); // t_xmin
    if (rand() % 4 === 0) xmin++;
    page.writeUInt16LE(rowId >>> 16, upper + 12); // t_ctid
    page.writeUInt16LE(0x0803, upper + 18); // infomask2, infomask
    page[upper + 22] = 24; // t_hoff
    let p = upper + 24;
    page.writeUInt32LE(++rowId, p); p += 4;
    page.writeUInt32LE(rand() % 10_000, p); p += 4;
    ts += BigInt(rand() % 5_000_000);
    page.writeBigUInt64LE(ts, p); p += 8;
    page[p++] = ((textLen + 1) << 1) | 1; // short varlena header
    p += page.write(text, p);
    page.writeDoubleLE((rand() % 1_000_000) / 100, p);
    page.writeUInt32LE(upper | (len << 17), lower); // line pointer
    lower += 4;
  }
  page.writeUInt16LE(lower, 12);
  page.writeUInt16LE(upper, 14);
  page.writeUInt16LE(8192, 16);
  page.writeUInt16LE(8192 | 4, 18);
}

function makeFile(path: string, mb: number): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(MiB);
  let lsn = 0x1_0000_0000n;
  for (let m = 0; m < mb; m++) {
    for (let off = 0; off < MiB; off += 8192) {
      const page = chunk.subarray(off, off + 8192);
      const kind = rand() % 100;
      if (kind < 10) for (let i = 0; i < 8192; i += 4) page.writeUInt32LE(rand(), i); // incompressible
      else if (kind < 13) page.fill(0); // new, empty page
      else heapPage(page, (lsn += 0x2000n));
    }
    writeSync(fd, chunk);
  }
  closeSync(fd);
}

// ---------------------------------------------------------------------------------------------------------------
// Measurement

interface Codec {
  method: CompressionMethod;
  label: string;
  ext: string;
  compressCli: [string, string[]];
  decompressCli: [string, string[]];
  mb: number;
}

const CODECS: Codec[] = [
  { method: 'lz4', label: 'lz4', ext: 'lz4', compressCli: ['lz4', ['-q', '-c']], decompressCli: ['lz4', ['-q', '-d', '-c']], mb: sizeMb },
  { method: 'zstd', label: 'zstd (default = 3)', ext: 'zst', compressCli: ['zstd', ['-q', '-3', '-c']], decompressCli: ['zstd', ['-q', '-d', '-c']], mb: sizeMb },
  { method: 'brotli', label: 'brotli (q3)', ext: 'br', compressCli: ['brotli', ['-q', '3', '-c']], decompressCli: ['brotli', ['-d', '-c']], mb: sizeMb },
  {
    method: 'lzma', label: 'lzma', ext: 'lzma',
    compressCli: ['xz', ['--format=lzma', LZMA_XZ_OPTIONS, '-c']], decompressCli: ['xz', ['--format=lzma', '-d', '-c']], mb: lzmaMb,
  },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Timing {
  seconds: number;
  /** CPU seconds (user + system) of every thread involved; NaN when unknown. */
  cpu: number;
}

const haveTime = spawnSync('/usr/bin/time', ['-f', '%U', 'true']).status === 0;

/** Runs a CLI reading `input` (a file argument) with stdout going to `output` (a file or /dev/null). */
function timeCli(cmd: string, args: string[], input: string, output: string): Timing {
  const fd = openSync(output, 'w');
  const cpuFile = join(dir, 'cpu.txt');
  try {
    const argv = haveTime ? ['/usr/bin/time', '-f', '%U %S', '-o', cpuFile, cmd, ...args, input] : [cmd, ...args, input];
    const t0 = performance.now();
    const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', fd, 'pipe'] });
    const seconds = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr?.toString().trim()}`);
    const cpu = haveTime ? readFileSync(cpuFile, 'utf8').trim().split(/\s+/).map(Number).reduce((a, b) => a + b, 0) : NaN;
    return { seconds, cpu };
  } finally {
    closeSync(fd);
  }
}

/** Streams `input` through a fresh codec stream into `output`. CPU covers all threads of this process. */
async function timeOurs(make: () => Duplex, input: string, output: string): Promise<Timing> {
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  await pipeline(createReadStream(input, { highWaterMark: MiB }), make(), createWriteStream(output));
  const u = process.cpuUsage(u0);
  return { seconds: (performance.now() - t0) / 1000, cpu: (u.user + u.system) / 1e6 };
}

function sameBytes(a: string, b: string): boolean {
  return spawnSync('cmp', ['-s', a, b]).status === 0;
}

interface Row {
  codec: string;
  op: string;
  ours: number;
  cli: number;
  oursCpu: number;
  cliCpu: number;
  oursSize?: number;
  cliSize?: number;
  command: string;
}

const rows: Row[] = [];
// Under the repository's (git-ignored) .tmp/: other test suites on a shared machine sweep /tmp/walg-* directories.
const tmpRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '.tmp');
mkdirSync(tmpRoot, { recursive: true });
const dir = mkdtempSync(join(tmpRoot, 'bench-codecs-'));
try {
  const full = join(dir, 'data.bin');
  const sample = join(dir, 'sample.bin');
  makeFile(full, sizeMb);
  seed = 0x2545f491;
  makeFile(sample, lzmaMb);

  for (const codec of CODECS) {
    const input = codec.mb === sizeMb ? full : sample;
    const bytes = statSync(input).size;
    const c = await getCompressor(codec.method);
    const ours = join(dir, `ours.${codec.ext}`);
    const theirs = join(dir, `cli.${codec.ext}`);
    const back = join(dir, 'back.bin');

    // Untimed warm-up that also checks correctness both ways.
    await timeOurs(() => c.compress(), input, ours);
    timeCli(codec.decompressCli[0], codec.decompressCli[1], ours, back);
    if (!sameBytes(back, input)) throw new Error(`${codec.label}: CLI could not restore our output`);
    timeCli(codec.compressCli[0], codec.compressCli[1], input, theirs);
    await timeOurs(() => c.decompress(), theirs, back);
    if (!sameBytes(back, input)) throw new Error(`${codec.label}: we could not restore the CLI's output`);
    rmSync(back);

    // Ours and the CLI alternate, so background noise hits both alike. Both decoders read our compressed file.
    const t = { oc: [] as Timing[], cc: [] as Timing[], od: [] as Timing[], cd: [] as Timing[] };
    for (let i = 0; i < RUNS; i++) {
      t.oc.push(await timeOurs(() => c.compress(), input, '/dev/null'));
      t.cc.push(timeCli(codec.compressCli[0], codec.compressCli[1], input, '/dev/null'));
      t.od.push(await timeOurs(() => c.decompress(), ours, '/dev/null'));
      t.cd.push(timeCli(codec.decompressCli[0], codec.decompressCli[1], ours, '/dev/null'));
    }
    const mb = bytes / 1e6;
    const speed = (ts: Timing[]): number => mb / median(ts.map((x) => x.seconds));
    const cpu = (ts: Timing[]): number => median(ts.map((x) => x.cpu));
    rows.push({
      codec: codec.label, op: 'compress', ours: speed(t.oc), cli: speed(t.cc), oursCpu: cpu(t.oc), cliCpu: cpu(t.cc),
      oursSize: statSync(ours).size / bytes, cliSize: statSync(theirs).size / bytes,
      command: `${codec.compressCli[0]} ${codec.compressCli[1].join(' ')} FILE > /dev/null`,
    });
    rows.push({
      codec: codec.label, op: 'decompress', ours: speed(t.od), cli: speed(t.cd), oursCpu: cpu(t.od), cliCpu: cpu(t.cd),
      command: `${codec.decompressCli[0]} ${codec.decompressCli[1].join(' ')} FILE.${codec.ext} > /dev/null`,
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// xxh32, the LZ4 frame's content checksum, on its own: every lz4 byte passes through it, so it must stay well above
// the codec's speed (it ran at over 1 GB/s when that was a unit-test assertion). CPU time, not wall time, so a busy
// machine does not distort it; 8 passes over 16 MiB after one untimed pass.
const xxhBuf = Buffer.alloc(16 * MiB);
for (let i = 0; i < xxhBuf.length; i += 4) xxhBuf.writeUInt32LE(rand(), i);
xxh32(xxhBuf);
const xxhStart = process.cpuUsage();
for (let i = 0; i < 8; i++) xxh32(xxhBuf);
const xxhUsed = process.cpuUsage(xxhStart);
const xxhMbps = (8 * xxhBuf.length) / (xxhUsed.user + xxhUsed.system); // bytes per CPU microsecond = MB/s

// ---------------------------------------------------------------------------------------------------------------
// Report

const version = (cmd: string, arg: string): string =>
  (spawnSync(cmd, [arg], { encoding: 'utf8' }).stdout || '').split('\n')[0].replace(/\*+/g, '').trim();
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const lines = [
  `# Codec throughput: ours vs the reference CLIs`,
  '',
  `Reproduce: \`node bench/codecs.ts ${sizeMb}\` (${new Date().toISOString().slice(0, 10)}; ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ` +
    `node ${process.version}; load average at the end: ${load}).`,
  `Input: ${sizeMb} MiB of PostgreSQL-heap-like 8 KiB pages (10% incompressible, 3% empty); lzma on a ${lzmaMb} MiB sample.`,
  `MB/s = uncompressed MB (10^6 bytes) per wall-clock second, median of ${RUNS} alternating runs; ours = file -> our`,
  `Compressor stream -> /dev/null (1 MiB reads) in this process, CLI = the command shown with a file argument and stdout`,
  `on /dev/null. Both decoders read our compressed file. CPU = user+system seconds of all threads (ours may use several`,
  `cores; the CLIs use one). Ratio = compressed/original size. CLIs: ${version('lz4', '--version')};`,
  `${version('zstd', '--version')}; ${version('brotli', '--version')}; ${version('xz', '--version')}.`,
  '',
  '| codec | direction | ours MB/s | CLI MB/s | ours/CLI | ours CPU s | CLI CPU s | ratio ours | ratio CLI | CLI command |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.codec} | ${r.op} | ${r.ours.toFixed(0)} | ${r.cli.toFixed(0)} | ${(r.ours / r.cli).toFixed(2)} | ` +
    `${r.oursCpu.toFixed(2)} | ${Number.isNaN(r.cliCpu) ? '?' : r.cliCpu.toFixed(2)} | ` +
    `${r.oursSize?.toFixed(3) ?? ''} | ${r.cliSize?.toFixed(3) ?? ''} | \`${r.command}\` |`),
  '',
  `xxh32 (LZ4 content checksum, one thread): ${xxhMbps.toFixed(0)} MB/s of CPU time over 8 x 16 MiB of random data.`,
  '',
];
const report = lines.join('\n');
process.stdout.write(report);
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'codecs.md');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, report);

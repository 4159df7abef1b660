// Fuzz targets (issue 21): one per parser that reads bytes from storage, a socket or a file. Each target turns an
// input into a run of the real parser and holds the project's rule for bad input: the only failure is a typed
// WalgError (never a RangeError, TypeError or a hang), and the extractor never writes outside its root. Inputs are
// valid seeds (made here by our own writers) with mutations — flips, truncations, insertions, repeats — or plain
// random bytes. Driven by fast-check (test/fuzz/run.ts); chosen over Jazzer.js because it runs in-process on the
// pinned Node with no native build, gives deterministic seeds to replay a finding, and shrinks inputs.

import { mkdtempSync, readdirSync, rmSync, mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { WalgError } from '../../src/core/errors.ts';
import { decodeMetadata, decodeSentinel } from '../../src/backup/sentinel.ts';
import { decodeFilesMetadata } from '../../src/pg/files-metadata.ts';
import { ByteReader, encodeMessage, readMessage } from '../../src/pg/daemon/protocol.ts';
import { applyIncrement, encodeIncrementHeader, PAGE_SIZE } from '../../src/pg/pagefile.ts';
import { parseDatasource } from '../../src/mysql/dsn.ts';
import { parseBinlogHead } from '../../src/mysql/binlog.ts';
import { getCompressor } from '../../src/pipeline/compress/index.ts';
import { createLibsodiumCrypter } from '../../src/pipeline/crypt/libsodium.ts';
import { readTar } from '../../src/tar/reader.ts';
import { TarWriter } from '../../src/tar/writer.ts';
import { SafeExtractor } from '../../src/tar/extract.ts';
import { TAR_TYPE } from '../../src/tar/header.ts';

/** A harness: how inputs are generated and what one run does with one. */
export interface FuzzTarget<T = unknown> {
  name: string;
  input: fc.Arbitrary<T>;
  /** Resolves, or rejects with a WalgError; any other rejection is a finding. */
  run(input: T): Promise<void>;
}

/** A finding: the parser failed with something other than a typed error. */
export class Finding extends Error {}

/** Runs `fn` and turns an untyped failure into a Finding (typed failures are the parser's correct answer). */
export async function expectTyped(fn: () => Promise<unknown> | unknown): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof WalgError) return;
    // A stream stage may wrap the typed error as its cause.
    if (err instanceof Error && err.cause instanceof WalgError) return;
    throw new Finding(`untyped failure: ${(err as Error)?.stack ?? String(err)}`);
  }
}

/** Mutations of a seed: byte flips, one truncation, one insertion, one repeated slice. */
const mutation: fc.Arbitrary<Mutation> = fc.record({
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
  insert: fc.option(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 64 })), { nil: undefined }),
  repeat: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 600 })), { nil: undefined }),
});

interface Mutation {
  flips: [number, number][];
  cut?: number;
  insert?: [number, Uint8Array];
  repeat?: [number, number];
}

function mutate(seed: Buffer, m: Mutation): Buffer {
  let b = Buffer.from(seed);
  for (const [pos, v] of m.flips) if (b.length) b[pos % b.length] = v;
  if (m.repeat && b.length) {
    const at = m.repeat[0] % b.length;
    b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + m.repeat[1]), b.subarray(at)]);
  }
  if (m.insert) {
    const at = b.length ? m.insert[0] % (b.length + 1) : 0;
    b = Buffer.concat([b.subarray(0, at), Buffer.from(m.insert[1]), b.subarray(at)]);
  }
  if (m.cut !== undefined && b.length) b = b.subarray(0, m.cut % (b.length + 1));
  return b;
}

/** Seeds with mutations, or (1 in 5) plain random bytes. */
function mutatedOf(seeds: readonly Buffer[]): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...seeds), mutation).map(([s, m]) => mutate(s, m)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a)) },
  );
}

async function drain(stream: Readable): Promise<void> {
  await pipeline(stream, new Writable({ write(_c, _e, cb) { cb(); } }));
}

/** Chunks of a buffer in random-ish sizes, so parsers see boundaries everywhere. */
function* chunked(b: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function tarOf(entries: { name: string; type?: string; body?: Buffer; linkname?: string }[]): Promise<Buffer> {
  const w = new TarWriter();
  const out: Buffer[] = [];
  w.stream.on('data', (c: Buffer) => out.push(Buffer.from(c)));
  const ended = new Promise((r) => w.stream.on('end', r));
  for (const e of entries) {
    await w.add({ name: e.name, type: e.type ?? TAR_TYPE.file, mode: 0o600, size: e.body?.length ?? 0, linkname: e.linkname ?? '' }, e.body);
  }
  await w.end();
  await ended;
  return Buffer.concat(out);
}

async function collect(stream: NodeJS.ReadWriteStream, input: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  const sink = new Writable({ write(c: Buffer, _e, cb) { out.push(Buffer.from(c)); cb(); } });
  await pipeline(Readable.from([input]), stream as unknown as PassThrough, sink);
  return Buffer.concat(out);
}

/** Builds every target; seeds are made with our own writers. */
export async function buildTargets(): Promise<FuzzTarget<any>[]> {
  const page = Buffer.alloc(PAGE_SIZE, 7);
  const tarSeeds = [
    await tarOf([{ name: '/base/1/1259', body: page }, { name: '/global/', type: TAR_TYPE.directory }, { name: '/PG_VERSION', body: Buffer.from('15\n') }]),
    await tarOf([{ name: `/${'long/'.repeat(40)}file`, body: Buffer.from('x'.repeat(700)) }]),
    await tarOf([{ name: '/link', type: TAR_TYPE.symlink, linkname: '../../outside' }, { name: '/link/escape', body: Buffer.from('no') }]),
    await tarOf([{ name: '/../escape', body: Buffer.from('no') }, { name: '/hard', type: TAR_TYPE.hardlink, linkname: '../../etc/passwd' }]),
  ];
  const targets: FuzzTarget<any>[] = [];

  targets.push({
    name: 'tar-reader',
    input: fc.tuple(mutatedOf(tarSeeds), fc.integer({ min: 1, max: 1500 })),
    async run([b, size]: [Buffer, number]) {
      await expectTyped(async () => {
        for await (const e of readTar(Readable.from(chunked(b, size)))) for await (const _ of e.chunks()) { /* consume */ }
      });
    },
  });

  // The extractor: whatever the archive says, nothing appears outside root (a sibling directory is watched).
  const base = mkdtempSync(join(tmpdir(), 'walg-fuzz-extract-'));
  const outside = join(base, 'outside');
  mkdirSync(outside);
  let n = 0;
  targets.push({
    name: 'tar-extractor',
    input: mutatedOf(tarSeeds),
    async run(b: Buffer) {
      const root = join(base, `root-${n++}`);
      mkdirSync(root);
      try {
        const x = new SafeExtractor({ root, absoluteNames: 'root-relative', fsync: false });
        await expectTyped(async () => {
          for await (const e of readTar(Readable.from([b]))) await x.entry(e);
          await x.settle();
        });
        await x.settle().catch(() => {});
        if (readdirSync(outside).length) throw new Finding(`the extractor wrote outside its root: ${readdirSync(outside).join(', ')}`);
        if (readdirSync(base).some((f) => !f.startsWith('root-') && f !== 'outside')) throw new Finding(`the extractor wrote beside its root: ${readdirSync(base).join(', ')}`);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  });

  // Each codec's decoder: our own compressed seeds, mutated.
  const plain = Buffer.concat([page, Buffer.from('wal-g '.repeat(2000)), Buffer.alloc(3000)]);
  for (const method of ['lz4', 'zstd', 'brotli', 'lzma'] as const) {
    const c = await getCompressor(method);
    const seed = await collect(c.compress(), plain);
    targets.push({
      name: `decompress-${method}`,
      input: mutatedOf([seed, seed.subarray(0, Math.floor(seed.length / 2))]),
      async run(b: Buffer) { await expectTyped(() => drain(Readable.from([b]).pipe(c.decompress()))); },
    });
  }

  // libsodium secretstream framing, with the right key (so only framing and authentication decide).
  const sodium = createLibsodiumCrypter(Buffer.alloc(32, 3));
  const sealed = await collect(sodium.encrypt(), Buffer.concat([plain, plain]));
  targets.push({
    name: 'libsodium-decrypt',
    input: mutatedOf([sealed]),
    async run(b: Buffer) { await expectTyped(() => collect(sodium.decrypt(), b)); },
  });

  // Sentinel, metadata.json and files_metadata.json as JSON text.
  const sentinel = Buffer.from('{"LSN":67108904,"PgVersion":150020,"FinishLSN":67109120,"SystemIdentifier":7715108384819252523,"UncompressedSize":54761157,"CompressedSize":7956156,"Spec":{"16384":{"loc":"/ts","link":"pg_tblspc/16384"},"base_prefix":"/d","tablespaces":["16384"]},"ChkpNum":null,"Version":2,"StartTime":"2026-12-03T16:00:55.044719Z","FinishTime":"2026-12-03T16:00:56.511181Z","DateFmt":"%Y-%m-%dT%H:%M:%S.%fZ","Hostname":"vm","DataDir":"/d","IsPermanent":false,"DeltaFrom":"base_000000010000000000000002","DeltaLSN":1,"DeltaFullName":"base_000000010000000000000002","DeltaCount":1}');
  const metadata = Buffer.from('{"start_time":"2026-12-03T16:00:55.044719Z","finish_time":"2026-12-03T16:00:56.511181Z","date_fmt":"%Y-%m-%dT%H:%M:%S.%fZ","hostname":"vm","data_dir":"/d","pg_version":150020,"start_lsn":67108904,"finish_lsn":67109120,"is_permanent":false,"system_identifier":7715108384819252523,"uncompressed_size":1,"compressed_size":1,"user_data":{"a":[1,2]}}');
  const files = Buffer.from('{"Files":{"/base/1/1259":{"IsIncremented":false,"IsSkipped":false,"MTime":"2026-12-03T16:00:55.5+00:00","UpdatesCount":0},"/x":{"IsIncremented":true,"IsSkipped":false,"MTime":"2026-12-03T16:00:55Z","CorruptBlocks":{"CorruptBlocksCount":1,"SomeCorruptBlocks":[3]},"UpdatesCount":0}},"TarFileSets":{"part_001.tar.lz4":["/base/1/1259"]}}');
  for (const [name, seed, fn] of [
    ['sentinel-json', sentinel, (t: string) => decodeSentinel(t)],
    ['metadata-json', metadata, (t: string) => decodeMetadata(t)],
    ['files-metadata-json', files, (t: string) => decodeFilesMetadata(t)],
  ] as const) {
    targets.push({
      name,
      input: fc.oneof(mutatedOf([seed]).map((b) => b.toString('utf8')), fc.json()),
      async run(t: string) { await expectTyped(() => fn(t)); },
    });
  }

  // The daemon protocol, as a socket would deliver it.
  const msgs = Buffer.concat([encodeMessage('C', ['check']), encodeMessage('F', ['000000010000000000000001', '/tmp/x'])]);
  targets.push({
    name: 'daemon-protocol',
    input: fc.tuple(mutatedOf([msgs]), fc.integer({ min: 1, max: 64 })),
    async run([b, size]: [Buffer, number]) {
      await expectTyped(async () => {
        const reader = new ByteReader(Readable.from(chunked(b, size)));
        for (let i = 0; i < 100 && (await readMessage(reader)) !== null; i++) { /* next */ }
      });
    },
  });

  // The increment (delta page) blob, applied to a scratch file.
  const inc = Buffer.concat([encodeIncrementHeader({ fileSize: 3 * PAGE_SIZE, blocks: [0, 2] } as Parameters<typeof encodeIncrementHeader>[0]), page, page]);
  const scratch = join(base, 'scratch');
  targets.push({
    name: 'increment-apply',
    input: fc.tuple(mutatedOf([inc]), fc.integer({ min: 1, max: 9000 })),
    async run([b, size]: [Buffer, number]) {
      const fh = await open(scratch, 'w+');
      try {
        await expectTyped(() => applyIncrement(fh, (async function* () { yield* chunked(b, size); })(), 'fuzz'));
      } finally {
        await fh.close();
      }
    },
  });

  // MySQL: the DSN parser and the binlog head parser.
  targets.push({
    name: 'mysql-dsn',
    input: fc.oneof(fc.string({ maxLength: 200 }), mutatedOf([Buffer.from('user:p%40ss@tcp(127.0.0.1:3306)/db?tls=skip-verify&timeout=5s'), Buffer.from('u@unix(/run/mysqld/mysqld.sock)/')]).map((b) => b.toString('latin1'))),
    async run(s: string) { await expectTyped(() => parseDatasource(s)); },
  });
  const binlog = Buffer.concat([Buffer.from([0xfe, 0x62, 0x69, 0x6e]), (() => {
    const ev = Buffer.alloc(19 + 40);
    ev.writeUInt32LE(1700000000, 0); ev[4] = 15; ev.writeUInt32LE(1, 5); ev.writeUInt32LE(ev.length, 9);
    return ev;
  })()]);
  targets.push({
    name: 'mysql-binlog-head',
    input: mutatedOf([binlog]),
    async run(b: Buffer) { await expectTyped(() => parseBinlogHead(b)); },
  });

  return targets;
}

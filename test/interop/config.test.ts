// Interop case 9 (issue 14), the config-file half: one settings file in YAML and one in JSON (numbers and booleans
// written as such, not as strings) read by both tools with --config: each tool's DEVEL dump shows the same value for
// every setting, and what one writes with them (wal-push, st put; zstd + libsodium, WALG_PREVENT_WAL_OVERWRITE) the
// other reads. A YAML file in forms go-yaml/viper accept (anchors and `<<` merges, octal / hex / `_` integers, block
// scalars holding an OpenPGP key, lower-case keys, a second document) means the same to both. Both decide the format
// by the extension alike (.YAML, no extension, .properties: ignored with a warning), warn alike about an unknown
// key, and refuse alike the values WAL-G refuses. The values ours refuses where WAL-G silently coerces them are
// listed as deliberate differences.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIRECTIONS, OURS, REFERENCE, WALG, ok, run } from './harness.ts';
import type { Tool } from './harness.ts';

const skip = REFERENCE.pg ? false : 'WALG_REFERENCE_PG is not set';
const SEGMENT = '000000010000000000000021';
const OTHER = '000000010000000000000022';
const sodiumKey = randomBytes(32).toString('base64');

let dir: string;
let segment: Buffer;
let armoredKey: string;

/** A WAL-like segment: compressible pages with some noise, 16 MiB. */
function makeSegment(): Buffer {
  const page = Buffer.alloc(8192);
  const out: Buffer[] = [];
  for (let i = 0; i < 2048; i++) {
    page.fill(i & 0xff, 0, 4096);
    randomBytes(256).copy(page, 4096);
    out.push(Buffer.from(page));
  }
  return Buffer.concat(out);
}

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'walg-interop-config-'));
  segment = makeSegment();
  const gnupg = join(dir, 'gnupg');
  mkdirSync(gnupg, { mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: gnupg };
  execFileSync('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'interop <interop@test>', 'rsa2048', 'sign', 'never'], { env, stdio: 'ignore' });
  const fpr = /fpr:+([0-9A-F]+):/.exec(execFileSync('gpg', ['--batch', '--with-colons', '--list-secret-keys', 'interop@test'], { env, stdio: ['ignore', 'pipe', 'ignore'] }).toString())![1]!;
  execFileSync('gpg', ['--batch', '--passphrase', '', '--quick-add-key', fpr, 'rsa2048', 'encr', 'never'], { env, stdio: 'ignore' });
  armoredKey = execFileSync('gpg', ['--armor', '--export-secret-keys', 'interop@test'], { env }).toString();
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

/** A work directory with an empty store and pg_wal/ holding SEGMENT. */
function workDir(label: string): { work: string; store: string; wal: string } {
  const work = mkdtempSync(join(dir, `${label}-`));
  const store = join(work, 'store');
  mkdirSync(store);
  mkdirSync(join(work, 'pg_wal', 'archive_status'), { recursive: true });
  const wal = join(work, 'pg_wal', SEGMENT);
  writeFileSync(wal, segment);
  return { work, store, wal };
}

/**
 * The settings a tool's DEVEL log shows. WAL-G prints the block "--- COMPILED ENVIRONMENT VARS ---" with one
 * tab-indented KEY=value line each; ours one "DEBUG: <time> KEY=value" line each.
 */
async function devDump(tool: Tool, cfg: string): Promise<Map<string, string>> {
  const r = await run(tool, cfg, ['st', 'ls'], { WALG_LOG_LEVEL: 'DEVEL' });
  const out = new Map<string, string>();
  const re = tool.name === 'walg' ? /^\t([A-Z][A-Z0-9_]*)=(.*)$/gm : /^DEBUG: \S+ \S+ ([A-Z][A-Z0-9_]*)=(.*)$/gm;
  for (const m of r.stderr.matchAll(re)) out.set(m[1]!, m[2]!);
  assert.ok(out.size > 0, `${tool.name} printed no settings:\n${r.stderr}`);
  return out;
}

/** Asserts both tools see `expected` (setting → value as WAL-G prints it) for `cfg`. */
async function sameValues(cfg: string, expected: Record<string, string | undefined>): Promise<void> {
  const [theirs, ours] = [await devDump(WALG, cfg), await devDump(OURS, cfg)];
  for (const [k, v] of Object.entries(expected)) {
    assert.equal(theirs.get(k), v, `WAL-G's value of ${k} (the expectation is wrong)`);
    assert.equal(ours.get(k), theirs.get(k), `ours reads ${k} as WAL-G does`);
  }
}

/** wal-push and st put by `writer`, wal-fetch and st get by `reader`, with the same settings file. */
async function roundTrip(writer: Tool, reader: Tool, cfg: string, work: string, wal: string, ext: string): Promise<void> {
  await ok(writer, cfg, ['wal-push', wal]);
  assert.deepEqual(readdirSync(join(work, 'store', 'wal_005')), [`${SEGMENT}.${ext}`]);
  await ok(reader, cfg, ['wal-fetch', SEGMENT, join(work, 'fetched')]);
  assert.ok(readFileSync(join(work, 'fetched')).equals(segment), `${reader.name} fetched what ${writer.name} pushed, byte-identical`);
  const small = Buffer.concat([Buffer.from('config interop\n'), randomBytes(50_000)]);
  writeFileSync(join(work, 'obj'), small);
  await ok(writer, cfg, ['st', 'put', join(work, 'obj'), 'folder/obj']);
  await ok(reader, cfg, ['st', 'get', `folder/obj.${ext}`, join(work, 'got')]);
  assert.ok(readFileSync(join(work, 'got')).equals(small), `${reader.name} got what ${writer.name} put`);
}

/** The plain settings both files carry: a string, numbers, a boolean, the libsodium key, PG connection keys. */
function plainSettings(store: string): Record<string, string | number | boolean> {
  return {
    WALG_FILE_PREFIX: store, WALG_COMPRESSION_METHOD: 'zstd', WALG_LIBSODIUM_KEY: sodiumKey, WALG_LIBSODIUM_KEY_TRANSFORM: 'base64',
    WALG_DELTA_MAX_STEPS: 6, WALG_UPLOAD_CONCURRENCY: 3, WALG_DOWNLOAD_CONCURRENCY: 2, WALG_PREVENT_WAL_OVERWRITE: true,
    WALG_TAR_SIZE_THRESHOLD: 1073741823, PGHOST: '/var/run/postgresql', PGPORT: 5433, PGUSER: 'postgres', PGDATABASE: 'postgres',
  };
}

const PLAIN_EXPECTED = (store: string): Record<string, string> => ({
  WALG_FILE_PREFIX: store, WALG_COMPRESSION_METHOD: 'zstd', WALG_LIBSODIUM_KEY: '--HIDDEN--', WALG_LIBSODIUM_KEY_TRANSFORM: 'base64',
  WALG_DELTA_MAX_STEPS: '6', WALG_UPLOAD_CONCURRENCY: '3', WALG_DOWNLOAD_CONCURRENCY: '2', WALG_PREVENT_WAL_OVERWRITE: 'true',
  WALG_TAR_SIZE_THRESHOLD: '1073741823', PGHOST: '/var/run/postgresql', PGPORT: '5433', PGUSER: 'postgres', PGDATABASE: 'postgres',
});

/** The same settings as YAML: numbers and booleans unquoted. */
function toYaml(settings: Record<string, string | number | boolean>): string {
  const lines = Object.entries(settings).map(([k, v]) => `${k}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
  return `# WAL-G settings\n${lines.join('\n')}\n`;
}

const FORMATS = {
  yaml: (s: Record<string, string | number | boolean>) => toYaml(s),
  json: (s: Record<string, string | number | boolean>) => JSON.stringify(s, null, 2),
} as const;

describe('one settings file, both tools', { skip }, () => {
  for (const format of ['yaml', 'json'] as const) {
    test(`${format}: both tools read every value alike`, async () => {
      const { work, store } = workDir(`values-${format}`);
      const cfg = join(work, `walg.${format}`);
      writeFileSync(cfg, FORMATS[format](plainSettings(store)));
      if (format === 'yaml') assert.match(readFileSync(cfg, 'utf8'), /^WALG_PREVENT_WAL_OVERWRITE: true$/m);
      await sameValues(cfg, PLAIN_EXPECTED(store));
    });

    for (const [writer, reader] of DIRECTIONS) {
      test(`${format}: ${writer.name} writes with the file's settings, ${reader.name} reads; the boolean is honoured by both`, async () => {
        const { work, store, wal } = workDir(`${format}-${writer.name}`);
        const cfg = join(work, `walg.${format}`);
        writeFileSync(cfg, FORMATS[format](plainSettings(store)));
        await roundTrip(writer, reader, cfg, work, wal, 'zst');
        // Encrypted (libsodium): the stored bytes are not a bare zstd frame.
        const stored = readFileSync(join(store, 'wal_005', `${SEGMENT}.zst`));
        assert.notEqual(stored.readUInt32LE(0), 0xfd2fb528, 'the stored segment is encrypted');
        // WALG_PREVENT_WAL_OVERWRITE: true — a different file under an archived name is refused by both.
        const changed = join(work, 'changed', SEGMENT);
        mkdirSync(join(work, 'changed', 'archive_status'), { recursive: true });
        writeFileSync(changed, Buffer.concat([segment.subarray(0, 100), Buffer.from('x'), segment.subarray(101)]));
        for (const t of [writer, reader]) {
          const r = await run(t, cfg, ['wal-push', changed]);
          assert.notEqual(r.code, 0, `${t.name} refuses to overwrite ${SEGMENT}:\n${r.stderr}`);
        }
      });
    }
  }

  test('yaml in the forms go-yaml accepts: merges, octal / hex / _ integers, block scalars, a second document', async () => {
    const { work, store, wal } = workDir('forms');
    const cfg = join(work, 'walg.yml');
    const key = armoredKey.trimEnd().split('\n').map((l) => `  ${l}`).join('\n');
    writeFileSync(cfg, [
      '---',
      '# comments, an anchor and a merge key',
      'codec: &codec',
      '  WALG_COMPRESSION_METHOD: brotli',
      '  WALG_UPLOAD_CONCURRENCY: 010',
      '<<: *codec',
      `walg_file_prefix: '${store}'`,
      '"WALG_DELTA_MAX_STEPS": 1_0',
      'WALG_DOWNLOAD_CONCURRENCY: 0x4',
      'WALG_UPLOAD_DISK_CONCURRENCY: 1.0e+0',
      'WALG_PREVENT_WAL_OVERWRITE: TRUE',
      'WALG_TAR_SIZE_THRESHOLD: 0o7777777777',
      'WALG_PG_WAL_SIZE: 16 # MiB',
      'PGPORT: +5433',
      'PGHOST: ~',
      'PGUSER: >-',
      '  folded',
      '  user',
      'PGDATABASE: "quoted # not a comment"',
      'WALG_PGP_KEY: |',
      key,
      '---',
      'WALG_FILE_PREFIX: /a/second/document/is/ignored',
      '',
    ].join('\n'));
    await sameValues(cfg, {
      WALG_COMPRESSION_METHOD: 'brotli', WALG_UPLOAD_CONCURRENCY: '8', WALG_FILE_PREFIX: store, WALG_DELTA_MAX_STEPS: '10',
      WALG_DOWNLOAD_CONCURRENCY: '4', WALG_UPLOAD_DISK_CONCURRENCY: '1', WALG_PREVENT_WAL_OVERWRITE: 'true',
      WALG_TAR_SIZE_THRESHOLD: String(0o7777777777), WALG_PG_WAL_SIZE: '16', PGPORT: '5433', PGHOST: undefined, PGUSER: 'folded user',
      PGDATABASE: 'quoted # not a comment', WALG_PGP_KEY: '--HIDDEN--',
    });
    // The OpenPGP key from the block scalar works in both directions.
    await roundTrip(WALG, OURS, cfg, work, wal, 'br');
    const again = workDir('forms-back');
    writeFileSync(join(again.work, 'walg.yml'), readFileSync(cfg, 'utf8').replaceAll(store, again.store));
    await roundTrip(OURS, WALG, join(again.work, 'walg.yml'), again.work, again.wal, 'br');
  });

  test('the file format is chosen by the extension as written; an unsupported one is ignored with a warning', async () => {
    const { work, store } = workDir('exts');
    const empty = join(work, 'empty.json');
    writeFileSync(empty, '{}');
    await ok(OURS, empty, ['st', 'put', join(work, 'pg_wal', SEGMENT), 'marker'], { WALG_FILE_PREFIX: store });
    const yaml = `WALG_FILE_PREFIX: ${store}\n`;
    const cases: Array<[string, string, boolean]> = [
      ['walg.yml', yaml, true], ['walg.toml', `WALG_FILE_PREFIX = "${store}"\n`, true], ['walg.env', `WALG_FILE_PREFIX=${store}\n`, true],
      ['walg.YAML', yaml, false], ['walg', yaml, false], ['walg.properties', `WALG_FILE_PREFIX=${store}\n`, false], ['walg.txt', yaml, false],
    ];
    for (const [name, text, read] of cases) {
      const cfg = join(work, name);
      writeFileSync(cfg, text);
      const [theirs, ours] = [await run(WALG, cfg, ['st', 'ls']), await run(OURS, cfg, ['st', 'ls'])];
      assert.equal(theirs.code, read ? 0 : 1, `WAL-G with ${name}:\n${theirs.stderr}`);
      assert.equal(ours.code, theirs.code, `ours with ${name}:\n${ours.stderr}`);
      assert.equal(ours.out.includes('marker'), read, `ours ${read ? 'reads' : 'ignores'} ${name}`);
      if (!read) {
        assert.match(theirs.stderr, /WARNING: .*Failed to parse config file/);
        assert.ok(ours.stderr.includes(`config file '${cfg}'`) && /^WARNING: /m.test(ours.stderr), `ours warns about ${name}:\n${ours.stderr}`);
      }
    }
  });

  test('an unknown key is a warning in both, not a failure', async () => {
    const { work, store, wal } = workDir('unknown');
    const cfg = join(work, 'walg.yaml');
    writeFileSync(cfg, `WALG_FILE_PREFIX: ${store}\nWALG_NO_SUCH_SETTING: 1\n`);
    for (const t of [WALG, OURS]) {
      const r = await run(t, cfg, ['wal-push', wal]);
      assert.equal(r.code, 0, `${t.name}:\n${r.stderr}`);
      assert.match(r.stderr, /WARNING: \S+ \S+ WALG_NO_SUCH_SETTING is unknown/);
      rmSync(join(store, 'wal_005'), { recursive: true });
    }
  });

  // Values WAL-G v3.0.9 refuses (its exit code: 1, or 2 where it panics): ours refuses each of them too.
  const REFUSED: Array<[string, Record<string, unknown>]> = [
    ['an unknown compression method', { WALG_COMPRESSION_METHOD: 'bogus' }],
    ['a compression method in capitals', { WALG_COMPRESSION_METHOD: 'LZ4' }],
    ['a libsodium key transform in capitals', { WALG_LIBSODIUM_KEY: sodiumKey, WALG_LIBSODIUM_KEY_TRANSFORM: 'BASE64' }],
    ['an unknown libsodium key transform', { WALG_LIBSODIUM_KEY: sodiumKey, WALG_LIBSODIUM_KEY_TRANSFORM: 'bogus' }],
    ['a short libsodium key', { WALG_LIBSODIUM_KEY: 'short' }],
    ['a log level in lower case', { WALG_LOG_LEVEL: 'devel' }],
    ['an unknown log level', { WALG_LOG_LEVEL: 'LOUD' }],
    ['an unknown WAL metadata level', { WALG_UPLOAD_WAL_METADATA: 'BOGUS' }],
    ['a WAL metadata level in lower case', { WALG_UPLOAD_WAL_METADATA: 'nometadata' }],
    ['a zero upload concurrency', { WALG_UPLOAD_CONCURRENCY: 0 }],
    ['a negative upload concurrency', { WALG_UPLOAD_CONCURRENCY: -1 }],
    ['a non-numeric upload concurrency', { WALG_UPLOAD_CONCURRENCY: 'abc' }],
    ['a non-numeric WAL segment size', { WALG_PG_WAL_SIZE: 'abc' }],
    ['a malformed OpenPGP key', { WALG_PGP_KEY: 'garbage' }],
    ['a relative file storage prefix', { WALG_FILE_PREFIX: 'relative/store' }],
  ];
  for (const [what, settings] of REFUSED) {
    test(`refused by both: ${what}`, async () => {
      const { work, store, wal } = workDir('refused');
      const cfg = join(work, 'walg.json');
      writeFileSync(cfg, JSON.stringify({ WALG_FILE_PREFIX: store, ...settings }));
      const theirs = await run(WALG, cfg, ['wal-push', wal]);
      assert.notEqual(theirs.code, 0, `WAL-G accepts ${JSON.stringify(settings)} (the case is wrong)`);
      const ours = await run(OURS, cfg, ['wal-push', wal]);
      assert.equal(ours.code, 1, `ours accepts ${JSON.stringify(settings)}:\n${ours.stderr}`);
      assert.match(ours.stderr, /^ERROR: /m);
    });
  }

  // Deliberate differences: ours refuses a malformed value that WAL-G silently turns into another one (false, 0,
  // a truncated number), and a --config file that does not exist (WAL-G warns and goes on without it).
  const COERCED: Array<[string, Record<string, unknown>]> = [
    ['a boolean spelled yes (WAL-G: false)', { WALG_PREVENT_WAL_OVERWRITE: 'yes' }],
    ['a fractional upload concurrency (WAL-G: 2)', { WALG_UPLOAD_CONCURRENCY: 2.7 }],
    ['a non-numeric rate limit (WAL-G: no limit)', { WALG_NETWORK_RATE_LIMIT: 'abc' }],
    ['a WAL segment size that is not a power of two (WAL-G: 3 MiB)', { WALG_PG_WAL_SIZE: 3 }],
  ];
  for (const [what, settings] of COERCED) {
    test(`deliberate: ours refuses ${what}`, async () => {
      const { work, store, wal } = workDir('coerced');
      const cfg = join(work, 'walg.json');
      writeFileSync(cfg, JSON.stringify({ WALG_FILE_PREFIX: store, ...settings }));
      assert.equal((await run(WALG, cfg, ['wal-push', wal])).code, 0, 'WAL-G accepts it');
      const ours = await run(OURS, cfg, ['wal-push', wal]);
      assert.equal(ours.code, 1, ours.stderr);
      assert.match(ours.stderr, new RegExp(`ERROR: .*${Object.keys(settings)[0]}`));
    });
  }
  test('deliberate: a --config file that does not exist fails ours; WAL-G warns and reads the environment only', async () => {
    const { work, store } = workDir('absent');
    const cfg = join(work, 'absent.yaml');
    const theirs = await run(WALG, cfg, ['st', 'ls'], { WALG_FILE_PREFIX: store });
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.match(theirs.stderr, /WARNING: .*Failed to parse config file .*absent\.yaml/);
    const ours = await run(OURS, cfg, ['st', 'ls'], { WALG_FILE_PREFIX: store });
    assert.equal(ours.code, 1);
    assert.match(ours.stderr, /ERROR: .*absent\.yaml.*does not exist/);
  });
});

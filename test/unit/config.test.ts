// Settings resolution: precedence, WAL-E aliases, config file formats, typed values and export to env.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Config, loadConfig, exportToEnv, parseDurationMs, parseSize, parseBool, parseDotenv } from '../../src/config/load.ts';
import { findSetting, flagName } from '../../src/config/settings.ts';
import { goFormatFloat, goParseIntBase0, resolveYamlPlain } from '../../src/config/file-values.ts';
import { parseWalgYaml } from '../../src/config/yaml-file.ts';
import { scanGlobalArgs } from '../../src/cli/argv.ts';
import { ConfigError, UsageError } from '../../src/core/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'walg-cfg-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };

test('precedence: flag > env > file > default', async () => {
  const cfg = file('p.json', JSON.stringify({ WALG_UPLOAD_CONCURRENCY: 3, WALG_DOWNLOAD_CONCURRENCY: 4, WALG_TAR_SIZE_THRESHOLD: 5 }));
  const c = await loadConfig({
    env: { WALG_UPLOAD_CONCURRENCY: '7', WALG_DOWNLOAD_CONCURRENCY: '8' },
    flags: new Map([['WALG_UPLOAD_CONCURRENCY', '9']]),
    configPath: cfg,
  });
  assert.equal(c.getInt('WALG_UPLOAD_CONCURRENCY'), 9);
  assert.equal(c.source('WALG_UPLOAD_CONCURRENCY'), 'flag');
  assert.equal(c.getInt('WALG_DOWNLOAD_CONCURRENCY'), 8);
  assert.equal(c.getInt('WALG_TAR_SIZE_THRESHOLD'), 5);
  assert.equal(c.getInt('WALG_UPLOAD_DISK_CONCURRENCY'), 1);
  assert.equal(c.source('WALG_UPLOAD_DISK_CONCURRENCY'), 'default');
});

test('WAL-E names and bare storage names', async () => {
  const c = await loadConfig({ env: { WALE_S3_PREFIX: 's3://b/p', WALE_S3_SSE: 'AES256', WALG_S3_STORAGE_CLASS: 'STANDARD_IA', AWS_ACCESS_KEY: 'AK' } });
  assert.equal(c.get('WALG_S3_PREFIX'), 's3://b/p');
  assert.equal(c.get('S3_SSE'), 'AES256');
  assert.equal(c.get('S3_STORAGE_CLASS'), 'STANDARD_IA');
  assert.equal(c.get('AWS_ACCESS_KEY_ID'), 'AK');
  const c2 = await loadConfig({ env: { S3_SSE: 'aws:kms' } });
  assert.equal(c2.get('S3_SSE'), 'aws:kms');
  assert.equal(findSetting('walg_s3_sse')?.name, 'S3_SSE');
  assert.equal(findSetting('WALG_NOT_A_SETTING'), undefined);
});

test('config file formats: JSON, YAML, TOML, dotenv; keys are case-insensitive', async () => {
  const files = [
    file('c.json', '{"walg_file_prefix": "/j", "WALG_DELTA_MAX_STEPS": 2}'),
    file('c.yaml', 'walg_file_prefix: /j\nWALG_DELTA_MAX_STEPS: 2\n'),
    file('c.toml', 'walg_file_prefix = "/j"\nWALG_DELTA_MAX_STEPS = 2\n'),
    file('c.env', '# comment\nexport walg_file_prefix="/j"\nWALG_DELTA_MAX_STEPS=2\n'),
  ];
  for (const f of files) {
    const c = await loadConfig({ env: {}, configPath: f });
    assert.equal(c.get('WALG_FILE_PREFIX'), '/j', f);
    assert.equal(c.getInt('WALG_DELTA_MAX_STEPS'), 2, f);
    assert.equal(c.file, f);
  }
});

test('config file lookup: WALG_CONFIG_PATH, then ~/.walg.json', async () => {
  const home = mkdtempSync(join(dir, 'home-'));
  writeFileSync(join(home, '.walg.json'), '{"WALG_FILE_PREFIX": "/home-cfg"}');
  assert.equal((await loadConfig({ env: {}, home })).get('WALG_FILE_PREFIX'), '/home-cfg');
  const p = file('via-env.yaml', 'WALG_FILE_PREFIX: /via-env\n');
  assert.equal((await loadConfig({ env: { WALG_CONFIG_PATH: p }, home })).get('WALG_FILE_PREFIX'), '/via-env');
});

test('unknown keys and broken files warn but do not fail; a missing --config file fails', async () => {
  const c = await loadConfig({ env: {}, configPath: file('u.json', '{"WALG_FILE_PREFIX":"/x","WALG_NO_SUCH_THING":1}') });
  assert.ok(c.warnings.includes('WALG_NO_SUCH_THING is unknown'));
  assert.equal(c.get('WALG_FILE_PREFIX'), '/x');
  const broken = await loadConfig({ env: { WALG_FILE_PREFIX: '/e' }, configPath: file('b.json', '{not json') });
  assert.ok(broken.warnings.some((w) => w.startsWith('failed to read config file')));
  assert.equal(broken.get('WALG_FILE_PREFIX'), '/e');
  await assert.rejects(loadConfig({ env: {}, configPath: join(dir, 'absent.json') }), ConfigError);
});

test('failover storages map stays a map', async () => {
  const c = await loadConfig({ env: {}, configPath: file('f.yaml', 'WALG_FAILOVER_STORAGES:\n  backup1:\n    WALG_FILE_PREFIX: /b1\n') });
  assert.deepEqual(c.getMap('WALG_FAILOVER_STORAGES'), { backup1: { WALG_FILE_PREFIX: '/b1' } });
});

test('export to env: file and flag values appear under canonical names; secrets are marked', async () => {
  const env: Record<string, string | undefined> = { WALE_S3_PREFIX: 's3://x/y' };
  const c = await loadConfig({ env, configPath: file('e.json', '{"PGHOST":"/tmp/sock","WALG_LIBSODIUM_KEY":"k"}'), flags: new Map([['PGPORT', '5433']]) });
  exportToEnv(c, env);
  assert.equal(env.PGHOST, '/tmp/sock');
  assert.equal(env.PGPORT, '5433');
  assert.equal(env.WALG_S3_PREFIX, 's3://x/y');
  assert.equal(env.WALG_COMPRESSION_METHOD, undefined, 'defaults are not exported');
  assert.equal(c.entries().find((e) => e.name === 'WALG_LIBSODIUM_KEY')?.secret, true);
});

test('typed values: bool, duration, size, int errors', async () => {
  assert.equal(parseBool('X', 'T'), true);
  assert.equal(parseBool('X', '0'), false);
  assert.throws(() => parseBool('X', 'yes'), ConfigError);
  assert.equal(parseDurationMs('X', '1m30s'), 90_000);
  assert.equal(parseDurationMs('X', '300ms'), 300);
  assert.equal(parseDurationMs('X', '2h'), 7_200_000);
  assert.equal(parseDurationMs('X', '1500000000'), 1500);
  assert.throws(() => parseDurationMs('X', '5 minutes'), ConfigError);
  assert.equal(parseSize('X', '1mb'), 1 << 20);
  assert.equal(parseSize('X', '1048576'), 1 << 20);
  const c = await loadConfig({ env: { WALG_UPLOAD_CONCURRENCY: 'many' } });
  assert.throws(() => c.getInt('WALG_UPLOAD_CONCURRENCY'), /WALG_UPLOAD_CONCURRENCY: 'many' is not an integer/);
  assert.deepEqual(parseDotenv('A=1\nB="x y" # c\nC=z # comment\n'), { A: '1', B: 'x y', C: 'z' });
});

test('hidden flags anywhere in argv, --config and --turbo', () => {
  const g = scanGlobalArgs(['st', '--walg-file-prefix', '/a', 'ls', '--config=/c.json', '-r', '--turbo', '--wale-s3-prefix=s3://b/c']);
  assert.deepEqual(g.rest, ['st', 'ls', '-r']);
  assert.equal(g.settingFlags.get('WALG_FILE_PREFIX'), '/a');
  assert.equal(g.settingFlags.get('WALG_S3_PREFIX'), 's3://b/c');
  assert.equal(g.configPath, '/c.json');
  assert.equal(g.turbo, true);
  assert.equal(flagName('WALG_S3_PREFIX'), 'walg-s3-prefix');
  assert.throws(() => scanGlobalArgs(['--walg-file-prefix']), UsageError);
  assert.deepEqual(scanGlobalArgs(['st', 'put', '--', '--walg-file-prefix']).rest, ['st', 'put', '--', '--walg-file-prefix']);
});

test('typed getters return the table default when a setting is unset, and their types say so', async () => {
  const c = await loadConfig({ env: {}, configPath: file('empty-values.json', '{"WALG_COMPRESSION_METHOD":"","WALG_DELTA_MAX_STEPS":""}') });
  const upload: number = c.getInt('WALG_UPLOAD_CONCURRENCY'); // compile-time: number, not number | undefined
  assert.equal(upload, 16);
  const method: string = c.get('WALG_COMPRESSION_METHOD');
  assert.equal(method, 'lz4', 'an empty value counts as unset');
  assert.equal(c.source('WALG_COMPRESSION_METHOD'), 'default');
  assert.equal(c.getInt('WALG_DELTA_MAX_STEPS'), 0);
  assert.equal(c.getDurationMs('WALG_ALIVE_CHECK_INTERVAL'), 60_000);
  assert.equal(c.getSize('WALG_FAILOVER_STORAGES_CHECK_SIZE'), 1 << 20);
  assert.equal(c.getBool('WALG_TAR_DISABLE_FSYNC'), false);
  const unset: number | undefined = c.getInt('WALG_DISK_RATE_LIMIT');
  assert.equal(unset, undefined);
  // @ts-expect-error a setting without a default may be undefined
  const notNumber: number = c.getInt('WALG_NETWORK_RATE_LIMIT');
  assert.equal(notNumber, undefined);
  // @ts-expect-error setting names are checked by the compiler
  assert.equal(c.get('WALG_NO_SUCH_SETTING'), undefined);
  assert.equal(c.require('WALG_SLOTNAME'), 'walg');
  // A Config built from bare values (as a failover storage's is) answers with the defaults too.
  const bare = new Config(new Map(), new Map(), undefined, []);
  assert.equal(bare.getInt('WALG_DOWNLOAD_CONCURRENCY'), 10);
  assert.equal(bare.source('WALG_DOWNLOAD_CONCURRENCY'), 'default');
  assert.equal(c.entries().find((e) => e.name === 'WALG_UPLOAD_CONCURRENCY')?.source, 'default', 'defaults stay marked for the DEVEL dump');
});

test('a setting that is accepted but not acted on warns once, naming it; acted-on settings do not', async () => {
  const inert = (w: string) => w.includes('is accepted for compatibility but not supported by this implementation');
  const c = await loadConfig({ env: { WALG_STATSD_ADDRESS: 'localhost:8125', WALG_UPLOAD_CONCURRENCY: '3', WALG_FILE_PREFIX: '/x' } });
  const warned = c.warnings.filter(inert);
  assert.equal(warned.length, 1, warned.join('\n'));
  assert.match(warned[0]!, /^WALG_STATSD_ADDRESS is accepted for compatibility but not supported by this implementation \(.+\); it has no effect$/);
  // Storage aliases, config-file keys and map values count; the warning names the canonical setting.
  const f = await loadConfig({ env: { WALG_S3_RETENTION_PERIOD: '3600' }, configPath: file('inert.yaml', 'http_listen: ":8080"\nWALG_STATSD_EXTRA_TAGS:\n  a: b\n') });
  assert.deepEqual(f.warnings.filter(inert).map((w) => w.split(' ')[0]).sort(), ['HTTP_LISTEN', 'S3_RETENTION_PERIOD', 'WALG_STATSD_EXTRA_TAGS']);
  // Not when left at (or set to) the default, nor when the companion that makes it act is set.
  const quiet = await loadConfig({ env: { S3_SKIP_VALIDATION: 'TRUE', PROFILE_MODE: 'cpu', AWS_ROLE_ARN: 'arn:aws:iam::1:role/r', AWS_WEB_IDENTITY_TOKEN_FILE: '/t' } });
  assert.deepEqual(quiet.warnings.filter(inert), []);
  const role = await loadConfig({ env: { AWS_ROLE_ARN: 'arn:aws:iam::1:role/r' } });
  assert.equal(role.warnings.filter(inert).length, 1);
  assert.deepEqual((await loadConfig({ env: {} })).warnings, []);
});

test('YAML plain scalars resolve as go-yaml v3 resolves them (viper)', () => {
  const cases: Array<[string, unknown]> = [
    ['0755', 493n], ['0o17', 15n], ['0x1F', 31n], ['0b101', 5n], ['1_000', 1000n], ['+5433', 5433n], ['-0x10', -16n], ['08', 8],
    ['12345678901234567890', 12345678901234567890n], ['1e3', 1000], ['.5', 0.5], ['1.0e+0', 1], ['true', true], ['FALSE', false],
    ['~', null], ['Null', null], ['yes', 'yes'], ['on', 'on'], ['2024-01-02', '2024-01-02'], ['0x1p-2', '0x1p-2'], ['1:30', '1:30'],
  ];
  for (const [src, want] of cases) assert.deepEqual(resolveYamlPlain(src), want, src);
  assert.equal(goParseIntBase0('+18446744073709551615'), undefined, 'a sign: int64 only');
  assert.equal(goParseIntBase0('18446744073709551615'), 18446744073709551615n, 'no sign: uint64 too');
  assert.equal(goParseIntBase0('18446744073709551616'), undefined);
});

test('numbers from JSON and YAML files are printed as Go prints a float64 (no exponent)', () => {
  assert.deepEqual([1e21, 1.5e-7, 5, 2.5, -1e22, Number.NaN, Infinity, -Infinity, -0].map(goFormatFloat),
    ['1000000000000000000000', '0.00000015', '5', '2.5', '-10000000000000000000000', 'NaN', '+Inf', '-Inf', '-0']);
});

test('YAML files: merge keys, the first document only, quoted and block scalars as written', async () => {
  assert.deepEqual(parseWalgYaml('base: &b\n  A: 010\n<<: *b\nB: "010"\nC: |\n  x\nD: !!str 010\n---\nA: 1\n'),
    { base: { A: 8n }, A: 8n, B: '010', C: 'x\n', D: '010' });
  assert.throws(() => parseWalgYaml('- a\n- b\n'), /not a mapping/);
  assert.throws(() => parseWalgYaml('A: 1\nA: 2\n'));
  const c = await loadConfig({ env: {}, configPath: file('g.yaml', 'WALG_UPLOAD_CONCURRENCY: 0x10\nWALG_DELTA_MAX_STEPS: 1_0\nWALG_DISK_RATE_LIMIT: 1e21\n') });
  assert.equal(c.getInt('WALG_UPLOAD_CONCURRENCY'), 16);
  assert.equal(c.getInt('WALG_DELTA_MAX_STEPS'), 10);
  assert.equal(c.get('WALG_DISK_RATE_LIMIT'), '1000000000000000000000');
});

test('the config format is decided by the extension as written (viper); the home lookup skips directories', async () => {
  for (const name of ['u.YAML', 'noext', 'u.properties', 'u.ini']) {
    const c = await loadConfig({ env: { WALG_FILE_PREFIX: '/e' }, configPath: file(name, 'WALG_FILE_PREFIX: /f\n') });
    assert.equal(c.get('WALG_FILE_PREFIX'), '/e', name);
    assert.ok(c.warnings.some((w) => w.startsWith('failed to read config file')), name);
  }
  const home = mkdtempSync(join(dir, 'home-dirs-'));
  mkdirSync(join(home, '.walg.json'));
  writeFileSync(join(home, '.walg.yaml'), 'WALG_FILE_PREFIX: /from-yaml\n');
  assert.equal((await loadConfig({ env: {}, home })).get('WALG_FILE_PREFIX'), '/from-yaml');
});


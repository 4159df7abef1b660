// Settings resolution: precedence, WAL-E aliases, config file formats, typed values and export to env.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, exportToEnv, parseDurationMs, parseSize, parseBool, parseDotenv } from '../../src/config/load.ts';
import { findSetting, flagName } from '../../src/config/settings.ts';
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

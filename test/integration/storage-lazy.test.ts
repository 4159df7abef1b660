// Issue #7 acceptance 4: a wal-push configured for S3 does not load the GCS or Azure SDKs, nor the SSH library.
// The CLI runs from source under a test-only preload (test/helpers/module-trace.ts) that records every module the
// process loaded. The positive cases show the trace would catch them: a GS-configured wal-push loads
// @google-cloud/storage (and nothing of Azure, SSH or AWS), an AZ-configured one loads @azure/storage-blob.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ROOT, NODE, WALG_BIN, DIST_BIN, baseEnv, runBin, LOG_LINE } from '../helpers/cli.ts';
import { startGcsServer } from '../servers/gcs.ts';
import type { GcsServer } from '../servers/gcs.ts';

const SEGMENT = '000000010000000000000001';
const SDKS = {
  gcs: '/node_modules/@google-cloud/storage/',
  azure: '/node_modules/@azure/storage-blob/',
  ssh: '/node_modules/ssh2/',
  s3: '/node_modules/@aws-sdk/client-s3/',
} as const;

let work: string;
let walFile: string;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'walg-lazy-'));
  mkdirSync(join(work, 'pg_wal', 'archive_status'), { recursive: true });
  walFile = join(work, 'pg_wal', SEGMENT);
  writeFileSync(walFile, randomBytes(1024 * 1024));
  writeFileSync(join(work, 'pg_wal', 'archive_status', `${SEGMENT}.ready`), '');
});
after(() => rmSync(work, { recursive: true, force: true }));

/** Runs `wal-push` from source under the module-trace preload; returns exit code, stderr and the loaded module URLs. */
function tracedWalPush(env: Record<string, string>): Promise<{ code: number; stderr: string; modules: string[] }> {
  const trace = join(work, `trace-${randomBytes(4).toString('hex')}.txt`);
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, ['--import', join(ROOT, 'test/helpers/module-trace.ts'), join(ROOT, 'src/cli/entry.ts'), 'wal-push', walFile], {
      env: baseEnv({ ...env, WALG_TEST_MODULE_TRACE: trace }), stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      let modules: string[];
      try { modules = readFileSync(trace, 'utf8').split('\n').filter(Boolean); } catch (e) { reject(new Error(`no module trace written (exit ${code}): ${stderr}`, { cause: e })); return; }
      resolve({ code: code ?? -1, stderr, modules });
    });
  });
}

const loaded = (modules: string[], which: keyof typeof SDKS) => modules.some((m) => m.includes(SDKS[which]));

/** A minimal S3 endpoint: accepts PUTs (recording their paths), answers 404 NoSuchKey to everything else. */
async function fakeS3(): Promise<{ url: string; puts: string[]; server: Server }> {
  const puts: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'PUT') {
        puts.push(req.url ?? '');
        res.writeHead(200, { ETag: '"0"', 'Content-Length': '0' }).end();
        return;
      }
      const body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>no</Message></Error>';
      res.writeHead(404, { 'Content-Type': 'application/xml', 'Content-Length': String(req.method === 'HEAD' ? 0 : body.length) }).end(req.method === 'HEAD' ? undefined : body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, puts, server };
}

test('wal-push on S3 loads the AWS SDK only: no GCS or Azure SDK, no ssh2', async () => {
  const s3 = await fakeS3();
  try {
    const r = await tracedWalPush({
      WALG_S3_PREFIX: 's3://bucket/lazy', AWS_ENDPOINT: s3.url, AWS_S3_FORCE_PATH_STYLE: 'true', AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', WALG_COMPRESSION_METHOD: 'lz4',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(s3.puts.some((p) => p.split('?')[0] === `/bucket/lazy/wal_005/${SEGMENT}.lz4`), `the segment was uploaded: ${s3.puts.join(', ')}`);
    assert.ok(loaded(r.modules, 's3'), 'the trace sees the AWS SDK');
    assert.ok(!loaded(r.modules, 'gcs'), 'no @google-cloud/storage module');
    assert.ok(!loaded(r.modules, 'azure'), 'no @azure/storage-blob module');
    assert.ok(!loaded(r.modules, 'ssh'), 'no ssh2 module');
    assert.ok(!r.modules.some((m) => /\/src\/storage\/drivers\/(gcs|azure|ssh)\.ts$/.test(m)), 'no GCS/Azure/SSH driver file');
  } finally {
    s3.server.closeAllConnections();
    s3.server.close();
  }
});

test('the artefact: dist/wal-g wal-push on S3 compiles only the AWS chunk (named at DEVEL), and a GS run only the GCS one', async (t) => {
  if (WALG_BIN !== DIST_BIN) { t.skip('WALG_TEST_FROM_SOURCE=1: no chunks outside the artefact'); return; }
  const s3 = await fakeS3();
  const gcs = await startGcsServer();
  try {
    const chunks = (stderr: string) => [...stderr.matchAll(/DEBUG: .* loading lazy chunk '(\w+)'/g)].map((m) => m[1]).sort();
    const r = await runBin(DIST_BIN, ['wal-push', walFile], baseEnv({
      WALG_S3_PREFIX: 's3://bucket/lazy-dist', AWS_ENDPOINT: s3.url, AWS_S3_FORCE_PATH_STYLE: 'true', AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', WALG_LOG_LEVEL: 'DEVEL',
    }));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(chunks(r.stderr), ['aws']);
    gcs.createBucket('lazy-dist');
    const g = await runBin(DIST_BIN, ['wal-push', walFile], baseEnv({ WALG_GS_PREFIX: 'gs://lazy-dist/x', STORAGE_EMULATOR_HOST: gcs.endpoint, WALG_LOG_LEVEL: 'DEVEL' }));
    assert.equal(g.code, 0, g.stderr);
    assert.deepEqual(chunks(g.stderr), ['gcs']);
  } finally {
    s3.server.closeAllConnections();
    s3.server.close();
    await gcs.stop();
  }
});

test('positive controls: a GS-configured wal-push loads @google-cloud/storage, an AZ-configured one @azure/storage-blob', async () => {
  let gcs: GcsServer | undefined;
  // Answers every Azure request with 403: the client library is loaded and used, and fails at once (no retries).
  const deny = createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(403, { 'Content-Length': '0' }).end()); });
  try {
    gcs = await startGcsServer();
    gcs.createBucket('lazy');
    const g = await tracedWalPush({ WALG_GS_PREFIX: 'gs://lazy/x', STORAGE_EMULATOR_HOST: gcs.endpoint });
    assert.equal(g.code, 0, g.stderr);
    assert.deepEqual(gcs.objectNames('lazy'), [`x/wal_005/${SEGMENT}.lz4`]);
    // Only WAL-G log lines on stderr (no Node warnings from the client library: archive_command's stderr).
    for (const l of g.stderr.split('\n').filter(Boolean)) assert.match(l, LOG_LINE);
    assert.ok(loaded(g.modules, 'gcs'), 'the GS run loads @google-cloud/storage');
    assert.ok(!loaded(g.modules, 'azure') && !loaded(g.modules, 'ssh') && !loaded(g.modules, 's3'), 'and no other storage SDK');

    await new Promise<void>((r) => deny.listen(0, '127.0.0.1', r));
    const a = await tracedWalPush({
      WALG_AZ_PREFIX: 'azure://lazy/x', AZURE_STORAGE_ACCOUNT: 'acct', AZURE_STORAGE_ACCESS_KEY: Buffer.from('key').toString('base64'),
      AZURE_BLOB_ENDPOINT: `http://127.0.0.1:${(deny.address() as AddressInfo).port}/acct`,
    });
    assert.notEqual(a.code, 0, 'the denied upload fails');
    assert.match(a.stderr, /HTTP 403/);
    assert.ok(loaded(a.modules, 'azure'), 'the AZ run loads @azure/storage-blob');
    assert.ok(!loaded(a.modules, 'gcs') && !loaded(a.modules, 'ssh') && !loaded(a.modules, 's3'), 'and no other storage SDK');
  } finally {
    deny.closeAllConnections();
    deny.close();
    await gcs?.stop();
  }
});

// Starts Azurite's blob service (node_modules/.bin/azurite-blob, a devDependency) on a free loopback port with a
// temp workspace, for integration tests; stop() kills it and removes the workspace.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Azurite's well-known development account (the same in every Azurite install). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteServer {
  /** Blob service URL including the account, e.g. http://127.0.0.1:PORT/devstoreaccount1 */
  endpoint: string;
  account: string;
  key: string;
  /** Creates a container with shared-key auth (tests usually want a fresh one each). */
  createContainer(name: string): Promise<void>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => res(p)); });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts azurite-blob (silent, in-process extent files under a temp dir, API-version check skipped so the
 * client library's newer x-ms-version is accepted) and resolves once it answers HTTP.
 */
export async function startAzurite(): Promise<AzuriteServer> {
  const bin = join(ROOT, 'node_modules/.bin/azurite-blob');
  const dir = await mkdtemp(join(tmpdir(), 'walg-azurite-'));
  const port = await freePort();
  let stderr = '';
  const child: ChildProcess = spawn(join(ROOT, 'node_modules/.bin/node'), [bin,
    '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', dir, '--silent', '--skipApiVersionCheck',
    '--disableTelemetry',
  ], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? dir } });
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  let exited = false;
  child.once('exit', () => { exited = true; });
  const stop = async (): Promise<void> => {
    if (!exited) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(5000)]);
      if (!exited) { child.kill('SIGKILL'); await gone; }
    }
    await rm(dir, { recursive: true, force: true });
  };
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited) throw new Error(`azurite-blob exited at start: ${stderr.trim().slice(-1000)}`);
      try {
        // Any HTTP answer (400 for a bare GET) means it is listening.
        const r = await fetch(`${endpoint}?comp=list`, { signal: AbortSignal.timeout(1000) });
        await r.body?.cancel();
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`azurite-blob did not answer within 30 s: ${stderr.trim().slice(-1000)}`);
        await sleep(100);
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    endpoint, account: AZURITE_ACCOUNT, key: AZURITE_KEY,
    async createContainer(name: string) {
      const sdk = await import('@azure/storage-blob');
      const svc = new sdk.BlobServiceClient(endpoint, new sdk.StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
      await svc.getContainerClient(name).createIfNotExists();
    },
    stop,
  };
}

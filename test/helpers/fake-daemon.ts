// A wal-g daemon (src/pg/daemon/server.ts) in the test process with recording fake operations, shared by the
// daemon tests (test/unit/daemon.test.ts, test/integration/daemon-cli.test.ts).

import { join } from 'node:path';
import { ArchiveNonExistenceError, LocalFileError } from '../../src/core/errors.ts';
import { startDaemon } from '../../src/pg/daemon/server.ts';
import type { DaemonOperations, RunningDaemon } from '../../src/pg/daemon/server.ts';
import { tempDir } from './tmp.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmp = (): string => tempDir('walg-daemon-');

/** One operation the fake daemon was asked to run. */
export interface Call { op: 'push' | 'fetch'; args: string[] }

/** A daemon with recording fake operations: fetch of names starting with 'missing' → N, 'fail' → E, 'hang' → never ends. */
export async function fakeDaemon(extra: { pgdata?: string | null; timeoutMs?: number; delayMs?: number } = {}): Promise<{ d: RunningDaemon; calls: Call[]; sock: string; aborted: string[]; maxInflight: () => number }> {
  const sock = join(tmp(), 'walg.sock');
  const calls: Call[] = [];
  const aborted: string[] = [];
  let inflight = 0;
  let max = 0;
  const body = async (name: string, signal: AbortSignal) => {
    inflight++; max = Math.max(max, inflight);
    try {
      if (extra.delayMs) await sleep(extra.delayMs);
      if (name.startsWith('missing')) throw new ArchiveNonExistenceError(name);
      if (name.startsWith('fail')) throw new LocalFileError('open: file exists');
      if (name.startsWith('hang')) {
        await new Promise((_, reject) => signal.addEventListener('abort', () => { aborted.push(name); reject(signal.reason); }));
      }
    } finally { inflight--; }
  };
  const ops: DaemonOperations = {
    async walPush(path, signal) { calls.push({ op: 'push', args: [path] }); await body(path.slice(path.lastIndexOf('/') + 1), signal); },
    async walFetch(name, dest, signal) { calls.push({ op: 'fetch', args: [name, dest] }); await body(name, signal); },
  };
  const d = await startDaemon({
    socketPath: sock, pgdata: extra.pgdata === null ? undefined : extra.pgdata ?? '/var/lib/pg/data', operationTimeoutMs: extra.timeoutMs ?? 10_000, ops,
  });
  return { d, calls, sock, aborted, maxInflight: () => max };
}

// Runs PostgreSQL client tools as the cluster user with stdin closed. The shared harness's runAs writes to the
// child's stdin, which can fail with an unhandled EPIPE when a quick command (psql -c, mkdir) has already exited;
// the WAL test and bench/wal.ts poll psql often, so they use these instead.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pgIdentity, PG_BIN } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';

/** Runs `cmd args` as the cluster user; resolves to stdout, rejects with the stderr tail on a non-zero exit. */
export function execAs(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const id = pgIdentity();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      uid: id.uid, gid: id.gid, cwd: '/tmp', stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: `${PG_BIN}:${process.env.PATH}`, HOME: id.home, LC_ALL: 'C', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout)
      : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim().slice(-2000)}`))));
  });
}

/** psql -At -c `query` against the cluster; returns trimmed stdout. */
export async function sql(c: PgCluster, query: string): Promise<string> {
  return (await execAs(join(PG_BIN, 'psql'), ['-X', '-v', 'ON_ERROR_STOP=1', '-At', '-d', 'postgres', '-c', query], c.env)).trim();
}

/** pgbench with the given arguments against database postgres. */
export async function pgbench(c: PgCluster, args: string[]): Promise<void> {
  await execAs(join(PG_BIN, 'pgbench'), [...args, 'postgres'], c.env);
}

// A `wal-g daemon` (dist/wal-g) running as the cluster user, so that it can read and write the cluster's pg_wal:
// the integration tests that archive and restore a real PostgreSQL through the daemon share it.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { WALG_BIN } from './cli.ts';
import { until } from './pg-exec.ts';
import { pgIdentity } from '../servers/postgres.ts';

/** `wal-g daemon SOCKET --config CONFIG` as the cluster user; its stderr is collected in `stderr`. */
export class ClusterDaemon {
  readonly proc: ChildProcess;
  readonly socket: string;
  stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(socket: string, config: string) {
    const id = pgIdentity();
    this.socket = socket;
    this.proc = spawn(WALG_BIN, ['daemon', socket, '--config', config], {
      uid: id.uid, gid: id.gid, cwd: '/tmp', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: id.home }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.proc.stderr!.on('data', (c) => { this.stderr += c; });
    this.exited = new Promise((r) => this.proc.on('close', (code) => r(code)));
  }

  /** Resolves once the socket exists (30 s at most). */
  async ready(): Promise<void> {
    await until(`daemon socket ${this.socket} (${this.stderr})`, 30_000, async () => existsSync(this.socket));
  }

  /** SIGTERM (or `signal`) unless it already exited; resolves to the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }
}

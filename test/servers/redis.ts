// A throwaway redis-server for tests: Debian's redis-server 7 on a free loopback port, in its own temp data
// directory, with a password, no RDB snapshots on its own and no diskless-sync delay (so `redis-cli --rdb -` answers
// at once). It runs as the current user (Redis needs no unprivileged account); stop() shuts it down, and
// remove() deletes the directory.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './postgres.ts';
import { tempDir } from '../helpers/tmp.ts';

/** The binaries the tests use (Debian's redis-server and redis-tools). */
export const REDIS_SERVER = '/usr/bin/redis-server';
export const REDIS_CLI = '/usr/bin/redis-cli';
export const REDIS_PASSWORD = 'redis-secret';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One server: its data directory (Redis's `dir`), port and the settings wal-g needs to reach it. */
export class RedisServer {
  readonly base: string;
  readonly dataDir: string;
  readonly port: number;
  /** Whether the next start() uses appendonly yes. */
  appendonly: boolean;
  pid = 0;

  constructor(base: string, port: number, appendonly: boolean) {
    this.base = base;
    this.dataDir = join(base, 'data');
    this.port = port;
    this.appendonly = appendonly;
  }

  /** Starts the server on its data directory (creating it) and waits until it answers PING. */
  async start(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dataDir, '--requirepass', REDIS_PASSWORD,
      '--save', '', '--appendonly', this.appendonly ? 'yes' : 'no', '--repl-diskless-sync-delay', '0', '--enable-debug-command', 'local',
      '--daemonize', 'no', '--logfile', join(this.base, 'redis.log'), '--dbfilename', 'dump.rdb'];
    const child = spawn(REDIS_SERVER, args, { stdio: 'ignore', detached: false });
    this.pid = child.pid ?? 0;
    child.unref();
    for (let i = 0; i < 200; i++) {
      if (this.cli(['PING']).stdout.trim() === 'PONG') return;
      await sleep(50);
    }
    throw new Error(`redis-server on port ${this.port} did not start (see ${join(this.base, 'redis.log')})`);
  }

  /** Runs redis-cli against the server; returns its output. */
  cli(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
    const r = spawnSync(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(this.port), ...args], {
      env: { ...process.env, REDISCLI_AUTH: REDIS_PASSWORD }, input, encoding: 'utf8', maxBuffer: 256 << 20,
    });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** DEBUG DIGEST: one hash of the whole dataset. */
  digest(): string {
    const d = this.cli(['DEBUG', 'DIGEST']).stdout.trim();
    if (!/^[0-9a-f]{40}$/.test(d)) throw new Error(`DEBUG DIGEST failed: ${d}`);
    return d;
  }

  /** Waits until a running BGREWRITEAOF is over. */
  async waitRewrite(): Promise<void> {
    for (let i = 0; i < 600; i++) {
      if (/aof_rewrite_in_progress:0/.test(this.cli(['INFO', 'persistence']).stdout)) return;
      await sleep(50);
    }
    throw new Error('BGREWRITEAOF did not finish');
  }

  /** Stops the server without saving (SHUTDOWN NOSAVE) and waits for the process to go. */
  async stop(): Promise<void> {
    if (!this.pid) return;
    this.cli(['SHUTDOWN', 'NOSAVE']);
    await this.waitGone();
  }

  /** Kills the server (SIGKILL) and waits for the process to go. */
  async kill(): Promise<void> {
    if (!this.pid) return;
    try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone already */ }
    await this.waitGone();
  }

  private async waitGone(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      try { process.kill(this.pid, 0); } catch { this.pid = 0; return; }
      await sleep(50);
    }
    try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ }
    this.pid = 0;
  }

  /** Removes the data directory (the server must be stopped). */
  wipeData(): void { rmSync(this.dataDir, { recursive: true, force: true }); }

  /** Stops the server if it runs and removes everything. */
  async remove(): Promise<void> {
    await this.kill();
    if (existsSync(this.base)) rmSync(this.base, { recursive: true, force: true });
  }

  /** The WALG_REDIS_* settings for this server (wal-g's temp manifest folder inside the data directory). */
  settings(): Record<string, string> {
    return {
      WALG_REDIS_HOST: '127.0.0.1', WALG_REDIS_PORT: String(this.port), WALG_REDIS_PASSWORD: REDIS_PASSWORD,
      WALG_REDIS_DATA_PATH: this.dataDir, WALG_REDIS_APPENDONLY_TEMP_MANIFEST: join(this.dataDir, 'wal-g/'),
      WALG_STREAM_CREATE_COMMAND: `${REDIS_CLI} -h 127.0.0.1 -p ${this.port} --rdb -`,
      WALG_STREAM_RESTORE_COMMAND: `cat > ${join(this.dataDir, 'dump.rdb')}`,
    };
  }
}

/** Starts a fresh server (AOF on when `appendonly`) in a new temp directory. */
export async function startRedis(opts: { appendonly?: boolean } = {}): Promise<RedisServer> {
  const s = new RedisServer(tempDir('walg-redis-'), await freePort(), !!opts.appendonly);
  await s.start();
  return s;
}

/**
 * Writes `n` keys of mixed types (strings, hashes, lists, sets, sorted sets, a few with TTLs) with redis-cli --pipe,
 * `tag` making the values of one round distinct. Values are pseudo-random so the data does not compress to nothing.
 */
export function writeMixedKeys(s: RedisServer, n: number, tag: string, start = 0): void {
  const cmd = (...a: string[]) => `*${a.length}\r\n${a.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}`;
  let out = '';
  const flush = () => {
    const r = s.cli(['--pipe'], out);
    if (r.code !== 0 || !/errors: 0/.test(r.stdout)) throw new Error(`redis-cli --pipe: ${r.stdout}${r.stderr}`);
    out = '';
  };
  let x = 0x9e3779b9 ^ tag.length;
  const rnd = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0).toString(36); };
  for (let i = start; i < start + n; i++) {
    const k = `${tag}:${i}`;
    switch (i % 5) {
      case 0: out += cmd('SET', `s:${k}`, `${rnd()}${rnd()}${rnd()}`); break;
      case 1: out += cmd('HSET', `h:${k}`, 'a', rnd(), 'b', rnd(), 'n', String(i)); break;
      case 2: out += cmd('RPUSH', `l:${k}`, rnd(), rnd(), rnd()); break;
      case 3: out += cmd('SADD', `t:${k}`, rnd(), rnd()); break;
      default: out += cmd('ZADD', `z:${k}`, String(i), rnd(), String(i + 1), rnd());
    }
    if (i % 97 === 0) out += cmd('EXPIRE', `s:${k}`, '86400');
    if (out.length > 4 << 20) flush();
  }
  if (out) flush();
}

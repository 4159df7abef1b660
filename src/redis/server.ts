// What a Redis backup learns about its server before it starts (compat: RedisMetaConstructor.Init): memory use and
// the highest database number from INFO, and for AOF backups the server version from `<process> --version`.

import { execFile } from 'node:child_process';
import { WalgError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import { RedisClientError, redisInfo } from './client.ts';
import type { RedisConnectionSettings } from './client.ts';
import { parseServerData } from './sentinel.ts';
import type { ServerData } from './sentinel.ts';

/** The credentials were refused: nothing would be backed up with them, so the push stops before it starts. */
const AUTH_FAILURE = /^redis: (WRONGPASS|NOAUTH|ERR invalid password|ERR AUTH)/;

/**
 * The server's memory figures and highest db number. compat: WAL-G logs a failed INFO and records zeros; so do we
 * for an unreachable server, but refused credentials are an error (the create command would fail with them too,
 * and the one line here says why).
 */
export async function serverData(conn: RedisConnectionSettings): Promise<ServerData> {
  try {
    const [memory, keyspace] = await redisInfo(conn, ['memory', 'keyspace']);
    return parseServerData(memory ?? '', keyspace ?? '');
  } catch (err) {
    if (err instanceof RedisClientError && AUTH_FAILURE.test(err.message)) {
      throw new WalgError(`Redis refused the credentials of WALG_REDIS_USERNAME/WALG_REDIS_PASSWORD: ${err.message.replace(/^redis: /, '')}`);
    }
    log.info(`memory info getting failed: ${(err as Error).message}`);
    return { usedMemory: 0, usedMemoryRss: 0, maxDbNumber: 0 };
  }
}

/**
 * The server's run_id (INFO server), which changes when it restarts; undefined when it cannot be reached now (the
 * push then has nothing to compare with later). Throws RedisClientError only from a caller that wants to know.
 */
export async function serverRunId(conn: RedisConnectionSettings, tolerant = true): Promise<string | undefined> {
  try {
    const [server] = await redisInfo(conn, ['server']);
    return /(?:^|\n)run_id:([0-9a-f]+)/.exec((server ?? '').replace(/\r/g, ''))?.[1];
  } catch (err) {
    if (!tolerant) throw err;
    return undefined;
  }
}

/** compat: VersionParser.Get — the `v=X.Y.Z` word of `<processName> --version`. */
export async function serverVersion(processName: string): Promise<string> {
  const out = await new Promise<string>((resolve, reject) => {
    execFile(processName, ['--version'], { timeout: 30_000 }, (err, stdout) => {
      if (err) reject(new WalgError(`error in getting ${processName} version: ${err.message}`, { cause: err }));
      else resolve(stdout);
    });
  });
  const word = out.split(' ').find((p) => p.startsWith('v='));
  if (!word) throw new WalgError(`version not found in ${out.trim()}`);
  return word.slice(2);
}

/**
 * compat: EnsureRestoreCompatibility — a backup restores onto the same or a newer major.minor. Throws on a version
 * that is not numeric.
 */
export function restoreCompatible(backupVersion: string, restoreVersion: string): boolean {
  const majorMinor = (v: string, what: string) => {
    const parts = v.split('.').slice(0, 2);
    if (parts.length === 0 || !parts.every((p) => /^\d+$/.test(p))) throw new WalgError(`${what} version error: Malformed version: ${v}`);
    return parts.map(Number).concat([0, 0]).slice(0, 2) as [number, number];
  };
  const [bM, bm] = majorMinor(backupVersion, 'backup');
  const [rM, rm] = majorMinor(restoreVersion, 'restore');
  return bM < rM || (bM === rM && bm <= rm);
}

// backup-fetch for Redis (compat: HandleBackupFetch, aof.RestoreService): --type rdb pipes the stream into
// WALG_STREAM_RESTORE_COMMAND; --type aof checks the backup's version against --redis-version and that no server
// runs on the data path, then replaces the AOF directory with the backup's tar parts. Both first clean the data
// path as WAL-G does (the AOF directory and the *.rdb / *.aof files beside it) unless told not to; every check runs
// before anything is removed.

import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readlink, readFile, realpath, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CorruptObjectError, OverwriteRefusedError, WalgError, describeError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import type { Storage } from '../storage/types.ts';
import type { Crypter } from '../pipeline/types.ts';
import { decodeStages, through } from '../pipeline/pipeline.ts';
import { resolveBackup } from '../backup/sentinel.ts';
import { tarPartitionsFolder } from '../backup/layout.ts';
import { streamToCommand } from '../backup/stream-command.ts';
import { readTar } from '../tar/reader.ts';
import { TAR_TYPE } from '../tar/header.ts';
import type { RedisConnectionSettings } from './client.ts';
import { commandEnv } from './rdb-push.ts';
import { restoreCompatible } from './server.ts';
import { readRedisSentinel } from './sentinel.ts';
import type { RedisSentinel } from './sentinel.ts';

/** Where the server keeps its data and which process is the server (WALG_REDIS_* settings). */
export interface RedisDataPaths {
  dataPath: string;
  /** WALG_REDIS_DATA_PATH joined with WALG_REDIS_APPENDONLY_PATH. */
  aofPath: string;
  processName: string;
}

/** A backup chosen by name or LATEST, with its sentinel. */
export async function selectRedisBackup(storage: Storage, nameOrLatest: string, signal?: AbortSignal): Promise<{ name: string; sentinel: RedisSentinel }> {
  const ref = await resolveBackup(storage, nameOrLatest);
  if (nameOrLatest === 'LATEST') log.info(`LATEST backup is: '${ref.name}'`);
  return { name: ref.name, sentinel: await readRedisSentinel(storage, ref.name, signal) };
}

/**
 * compat: EnsureRedisStopped refuses while any redis-server runs; this one refuses while a server process
 * (WALG_REDIS_SERVER_PROCESS_NAME) runs whose working directory, Redis's `dir`, is the data path, or whose working
 * directory cannot be read (another user's server: assumed to be this one). Servers on other data paths of the same
 * host do not stop a restore.
 */
export async function ensureRedisStopped(paths: RedisDataPaths): Promise<void> {
  const target = await realpath(paths.dataPath).catch(() => paths.dataPath);
  let pids: string[];
  try { pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p)); } catch { return; }
  for (const pid of pids) {
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').then((c) => c.trim()).catch(() => '');
    if (comm === '' || comm !== paths.processName.slice(0, 15)) continue;
    // A zombie (a server that exited and awaits its parent's wait) holds no files: it has no cwd to read either.
    const state = await readFile(`/proc/${pid}/stat`, 'utf8').then((st) => st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3)).catch(() => 'X');
    if (state === 'Z' || state === 'X') continue;
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => undefined);
    if (cwd !== undefined && cwd !== target) continue;
    throw new OverwriteRefusedError(`${paths.processName} (pid ${pid}) is running on ${paths.dataPath}: stop it before restoring (or pass --skip-checks)`);
  }
}

/** compat: AofFolderInfo.CleanPathAndParent — removes the AOF directory and the *.rdb and *.aof files beside it. */
export async function cleanDataPath(aofPath: string): Promise<void> {
  try {
    await rm(aofPath, { recursive: true, force: true });
    const parent = dirname(aofPath);
    const names = await readdir(parent).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return [] as string[]; throw err; });
    for (const n of names) if (n.endsWith('.rdb') || n.endsWith('.aof')) await rm(join(parent, n), { recursive: true, force: true });
  } catch (err) {
    throw new WalgError(`failed to remove AOF folder: ${describeError(err)}`, { cause: err });
  }
}

/** Options of an RDB fetch. */
export interface RdbFetchOptions {
  storage: Storage;
  crypter?: Crypter;
  backup: string;
  restoreCommand: string;
  connection: RedisConnectionSettings;
  paths: RedisDataPaths;
  skipClean: boolean;
  skipChecks: boolean;
  signal?: AbortSignal;
}

/** backup-fetch --type rdb: clean (unless --skip-clean, after the running-server check), then the restore command. */
export async function fetchRdbBackup(o: RdbFetchOptions): Promise<void> {
  await readRedisSentinel(o.storage, o.backup, o.signal);
  if (!o.skipClean) {
    // Not in WAL-G: the clean step deletes the running server's files, so it waits for the server to stop too.
    if (!o.skipChecks) await ensureRedisStopped(o.paths);
    await cleanDataPath(o.paths.aofPath);
  }
  await streamToCommand({ storage: o.storage, crypter: o.crypter, backup: o.backup, restoreCommand: o.restoreCommand, env: commandEnv(o.connection), signal: o.signal });
  log.info(`Backup ${o.backup} written to the restore command`);
}

/** Options of an AOF fetch. */
export interface AofFetchOptions {
  storage: Storage;
  crypter?: Crypter;
  backup: string;
  sentinel: RedisSentinel;
  restoreVersion: string;
  paths: RedisDataPaths;
  skipChecks: boolean;
  skipBackupDownload: boolean;
  signal?: AbortSignal;
}

/** backup-fetch --type aof: version and server checks, clean, then every tar part extracted into the AOF path. */
export async function fetchAofBackup(o: AofFetchOptions): Promise<void> {
  const s = o.sentinel;
  if (!s.Version) throw new WalgError(`expecting sentinel file for aof backup with always filled version: ${o.backup}`);
  if (!o.skipChecks) {
    if (!restoreCompatible(s.Version, o.restoreVersion)) throw new WalgError(`backup of version ${s.Version} could not be restored to version ${o.restoreVersion}`);
    await ensureRedisStopped(o.paths);
  } else {
    log.info('Skipped restore redis checks');
  }
  if (o.skipBackupDownload) { log.info('Skipped download redis backup files'); return; }
  await cleanDataPath(o.paths.aofPath);
  log.info(`Download backup files to ${o.paths.aofPath}`);
  await mkdir(o.paths.aofPath, { recursive: true, mode: 0o755 });
  const folder = tarPartitionsFolder(o.backup);
  const parts: string[] = [];
  for await (const e of o.storage.list(folder, { signal: o.signal })) if (e.type === 'obj') parts.push(e.key);
  if (parts.length === 0) throw new CorruptObjectError(`backup ${o.backup} has no tar parts under ${folder}`);
  const { compressorForExtension } = await import('../pipeline/compress/index.ts');
  for (const key of parts.sort()) {
    const ext = /\.tar(?:\.([a-z0-9]+))?$/.exec(key)?.[1] ?? '';
    const compressor = await compressorForExtension(ext);
    if (ext && !compressor) throw new CorruptObjectError(`decompressor for file type '${ext}' not found`);
    const plain = through(await o.storage.get(key, { signal: o.signal }), decodeStages({ crypter: o.crypter, compressor }));
    for await (const entry of readTar(plain as AsyncIterable<Uint8Array>)) {
      const rel = entry.header.name.replace(/^\/+/, '');
      if (entry.header.type === TAR_TYPE.directory) continue;
      if (rel === '' || rel.includes('/') || rel === '..' || rel === '.' || entry.header.type !== TAR_TYPE.file) {
        throw new CorruptObjectError(`${key}: unexpected member '${entry.header.name}' in an AOF backup`);
      }
      await pipeline(entry.body, createWriteStream(join(o.paths.aofPath, rel), { mode: entry.header.mode || 0o644 }));
    }
  }
  log.info(`Backup ${o.backup} restored into ${o.paths.aofPath}`);
}

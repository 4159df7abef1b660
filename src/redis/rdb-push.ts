// backup-push --type rdb (compat: HandleRDBBackupPush): read the server's memory figures, run
// WALG_STREAM_CREATE_COMMAND (e.g. `redis-cli --rdb -`, with REDISCLI_AUTH set from WALG_REDIS_PASSWORD) and upload
// its stdout as the single stream basebackups_005/stream_<time>/stream.<ext>, then, only when the command and the
// upload both succeeded, the sentinel. A failed push removes what it uploaded and is never listed.

import type { Storage } from '../storage/types.ts';
import type { DataPipeline } from '../pipeline/pipeline.ts';
import { log } from '../core/log.ts';
import { goLocalTime } from '../core/time.ts';
import { freshBackupName, removeFailedUpload, uploadCommandOutput } from '../backup/stream-command.ts';
import { uploadStream } from '../backup/stream.ts';
import type { RedisConnectionSettings } from './client.ts';
import { serverData } from './server.ts';
import { RDB_BACKUP_TYPE, RDB_PREFIX, encodeRedisSentinel, writeRedisSentinel } from './sentinel.ts';
import type { RedisSentinel } from './sentinel.ts';

/** What a push needs from the run. */
export interface RedisPushContext {
  storage: Storage;
  pipeline: DataPipeline;
  signal: AbortSignal;
}

/** Options of an RDB push. */
export interface RdbPushOptions {
  command: string;
  permanent: boolean;
  userData?: unknown;
  connection: RedisConnectionSettings;
}

/** compat: the create and restore commands get REDISCLI_AUTH when WALG_REDIS_PASSWORD is set. */
export function commandEnv(conn: RedisConnectionSettings): NodeJS.ProcessEnv {
  return conn.password ? { ...process.env, REDISCLI_AUTH: conn.password } : process.env;
}

/** Runs one RDB backup and returns its name. Throws (after cleaning up) when anything fails. */
export async function pushRdbBackup(ctx: RedisPushContext, opts: RdbPushOptions): Promise<string> {
  const { storage, signal } = ctx;
  const server = await serverData(opts.connection);
  const start = new Date();
  const { name } = await freshBackupName(storage, RDB_PREFIX, signal);
  log.info(`Backup will be pushed as ${name}`);
  try {
    // compat: WAL-G's Redis uploader never splits the stream (WALG_STREAM_SPLITTER_* are MySQL's).
    const split = { partitions: 0, blockSize: 1 << 20, maxFileSize: 0 };
    const uploaded = await uploadCommandOutput(opts.command,
      (stream) => uploadStream(stream, { storage, pipeline: ctx.pipeline, backup: name, split, signal }),
      { signal, env: commandEnv(opts.connection) });
    const sentinel: RedisSentinel = {
      BackupName: name,
      StartLocalTime: goLocalTime(start),
      FinishLocalTime: goLocalTime(new Date()),
      UserData: opts.userData,
      Permanent: opts.permanent,
      DataSize: uploaded.uncompressedSize,
      BackupSize: uploaded.compressedSize,
      BackupType: RDB_BACKUP_TYPE,
      UsedMemory: server.usedMemory,
      UsedMemoryRss: server.usedMemoryRss,
      MaxDBNumber: server.maxDbNumber,
    };
    log.debug(`Backup sentinel: ${encodeRedisSentinel(sentinel)}`);
    await writeRedisSentinel(storage, name, sentinel, signal);
  } catch (err) {
    await removeFailedUpload(storage, name);
    throw err;
  }
  log.info(`Backup ${name} finished`);
  return name;
}

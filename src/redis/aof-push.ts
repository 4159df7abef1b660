// backup-push --type aof (compat: HandleAOFBackupPush, aof.BackupService): the multi-part AOF of Redis 7 as one
// consistent set. The manifest is copied into WALG_REDIS_APPENDONLY_TEMP_MANIFEST and every file it names is pinned
// there (a hard link plus an open descriptor, as WAL-G's FilesPinner), so a BGREWRITEAOF that deletes the old base
// and incr files cannot cut them while they are read. The set goes up as tar parts
// basebackups_005/aof_<time>/tar_partitions/part_NNN.tar.<ext> (members /<file name>, WALG_TAR_SIZE_THRESHOLD per
// part), watched by a disk-space guard on the data path; the sentinel (with the server version) is written last.

import { link, mkdir, open, rm, statfs, readFile, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { WalgError, describeError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import { goLocalTime } from '../core/time.ts';
import { freshBackupName, removeFailedUpload } from '../backup/stream-command.ts';
import { ByteCounter } from '../backup/stream.ts';
import { tarPartitionsFolder } from '../backup/layout.ts';
import { encodeStages, through } from '../pipeline/pipeline.ts';
import { TarWriter } from '../tar/writer.ts';
import { TAR_TYPE } from '../tar/header.ts';
import type { RedisConnectionSettings } from './client.ts';
import type { RedisPushContext } from './rdb-push.ts';
import { serverData, serverRunId, serverVersion } from './server.ts';
import { AOF_BACKUP_TYPE, AOF_PREFIX, encodeRedisSentinel, writeRedisSentinel } from './sentinel.ts';
import type { RedisSentinel } from './sentinel.ts';

/** Options of an AOF push (WALG_REDIS_* settings and the flags). */
export interface AofPushOptions {
  permanent: boolean;
  userData?: unknown;
  connection: RedisConnectionSettings;
  /** WALG_REDIS_DATA_PATH joined with WALG_REDIS_APPENDONLY_PATH. */
  aofPath: string;
  dataPath: string;
  manifestName: string;
  /** WALG_REDIS_APPENDONLY_TEMP_MANIFEST: where the manifest copy and the pins live. */
  tmpPath: string;
  processName: string;
  /** WALG_REDIS_DATA_THRESHOLD (percent of the data path's disk in use) and _TIMEOUT (seconds between checks). */
  diskThreshold: number;
  diskInterval: number;
  tarSizeThreshold: number;
}

/** One pinned file: its pin path, the open descriptor and its size when pinned. */
interface Pinned { path: string; fh: FileHandle; size: number; mode: number; mtime: number; uid: number; gid: number; own: boolean }

/** compat: aof.parseManifest — the file names of the manifest's `file <name> seq <n> type <t>` lines. */
export function manifestFiles(text: string, manifest: string): string[] {
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines.length === 0) throw new WalgError(`no records in manifest file ${manifest}`);
  return lines.map((line) => {
    const f = line.trim().split(/\s+/);
    if (f.length !== 6) throw new WalgError(`unexpected line format in manifest file: ${line}`);
    return f[1]!;
  });
}

async function pinOne(source: string, pin: string, own: boolean): Promise<Pinned> {
  if (source !== pin) await link(source, pin);
  const fh = await open(pin, 'r');
  const st = await fh.stat();
  return { path: pin, fh, size: st.size, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000), uid: st.uid, gid: st.gid, own: own || source !== pin };
}

/** Closes and removes the pins (never the originals). */
async function unpin(pins: readonly Pinned[]): Promise<void> {
  for (const p of pins) {
    await p.fh.close().catch(() => {});
    if (p.own) await rm(p.path, { force: true }).catch((err: unknown) => log.error(`failed to remove pinned file ${p.path}: ${describeError(err)}`));
  }
}

/**
 * Copies the manifest and pins it with the files it names. A rewrite that finishes between reading the manifest and
 * linking its files removes one of them: then the whole set is read again (a few times), so the pinned files always
 * belong to one manifest.
 */
async function pinAofSet(o: AofPushOptions): Promise<Pinned[]> {
  await mkdir(o.tmpPath, { recursive: true, mode: 0o700 });
  const manifest = join(o.aofPath, o.manifestName);
  for (let attempt = 1; ; attempt++) {
    let text: string;
    try { text = await readFile(manifest, 'utf8'); } catch (err) {
      throw new WalgError(`failed to open manifest file ${manifest}: ${describeError(err)}`, { cause: err });
    }
    const files = manifestFiles(text, manifest);
    const copy = join(o.tmpPath, o.manifestName);
    await writeFile(copy, text.split('\n').filter((l) => l !== '').map((l) => `${l}\n`).join(''), { mode: 0o644 });
    const pins: Pinned[] = [];
    try {
      pins.push(await pinOne(copy, copy, true));
      for (const f of files) {
        const pin = join(o.tmpPath, basename(f));
        await rm(pin, { force: true }); // a pin left by a killed run
        pins.push(await pinOne(join(o.aofPath, f), pin, false));
      }
      return pins;
    } catch (err) {
      await unpin(pins);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 5) {
        log.info(`an AOF file went away while pinning (a rewrite finished): reading ${manifest} again`);
        continue;
      }
      throw new WalgError(`unable to prevent files list from removal: ${describeError(err)}`, { cause: err });
    }
  }
}

/**
 * compat: diskwatcher — every `interval` seconds the data path's disk use; rejects once it is above `threshold`
 * percent. `stop()` ends the watch.
 */
function watchDisk(path: string, threshold: number, interval: number): { tripped: Promise<never>; stop: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tripped = new Promise<never>((_r, reject) => {
    const check = async () => {
      if (stopped) return;
      try {
        const s = await statfs(path);
        const used = 100 - (s.bavail / s.blocks) * 100;
        if (used > threshold) { reject(new WalgError('disk is filled above limit, exiting')); return; }
      } catch (err) {
        log.warn(`disk check of ${path} failed: ${describeError(err)}`);
      }
      if (!stopped) timer = setTimeout(() => { void check(); }, Math.max(1, interval) * 1000);
    };
    void check();
  });
  tripped.catch(() => {});
  return { tripped, stop: () => { stopped = true; clearTimeout(timer); } };
}

/** Uploads the pinned files as tar parts; returns the files' bytes and the stored bytes. */
async function uploadTarParts(ctx: RedisPushContext, name: string, pins: readonly Pinned[], threshold: number): Promise<{ dataSize: number; backupSize: number }> {
  const ext = ctx.pipeline.compressor?.extension ?? '';
  let part = 0;
  let dataSize = 0;
  let backupSize = 0;
  let i = 0;
  while (i < pins.length) {
    part++;
    const key = `${tarPartitionsFolder(name)}part_${String(part).padStart(3, '0')}.tar${ext ? `.${ext}` : ''}`;
    log.info(`Starting part ${part} of backup ${name} ...`);
    const tar = new TarWriter();
    const out = new ByteCounter();
    const put = ctx.storage.put(key, through(tar.stream, [...encodeStages(ctx.pipeline), out]), { signal: ctx.signal });
    put.catch(() => {});
    try {
      do {
        const p = pins[i++]!;
        await tar.add({ name: `/${basename(p.path)}`, type: TAR_TYPE.file, size: p.size, mode: p.mode, mtime: p.mtime, uid: p.uid, gid: p.gid },
          p.fh.createReadStream({ start: 0, end: Math.max(0, p.size - 1), autoClose: false }));
        dataSize += p.size;
      } while (i < pins.length && tar.bytesWritten < threshold);
      await tar.end();
    } catch (err) {
      tar.stream.destroy(err as Error);
      await put.catch(() => {});
      throw err;
    }
    await put;
    backupSize += out.bytes;
    log.info(`Finished writing part ${part} of backup ${name}.`);
  }
  return { dataSize, backupSize };
}

/** Runs one AOF backup and returns its name. Throws (after cleaning up) when anything fails. */
export async function pushAofBackup(ctx: RedisPushContext, o: AofPushOptions): Promise<string> {
  const { storage, signal } = ctx;
  const server = await serverData(o.connection);
  const runId = await serverRunId(o.connection);
  const version = await serverVersion(o.processName);
  const start = new Date();
  const { name } = await freshBackupName(storage, AOF_PREFIX, signal);
  log.info(`Backup will be pushed as ${name}`);
  const pins = await pinAofSet(o);
  const disk = watchDisk(o.dataPath, o.diskThreshold, o.diskInterval);
  try {
    const sizes = await Promise.race([uploadTarParts(ctx, name, pins, o.tarSizeThreshold), disk.tripped]);
    disk.stop();
    // The files are pinned, but a server that died (or restarted) meanwhile may have left a torn AOF tail: such a
    // set is not trusted (compat: WAL-G does not look again).
    if (runId !== undefined) {
      const now = await serverRunId(o.connection, false).catch((err: unknown) => { throw new WalgError(`the Redis server went away during the AOF backup: ${describeError(err)}`, { cause: err }); });
      if (now !== runId) throw new WalgError('the Redis server restarted during the AOF backup (its run_id changed)');
    }
    const sentinel: RedisSentinel = {
      BackupName: name,
      StartLocalTime: goLocalTime(start),
      FinishLocalTime: goLocalTime(new Date()),
      UserData: o.userData,
      Permanent: o.permanent,
      DataSize: sizes.dataSize,
      BackupSize: sizes.backupSize,
      BackupType: AOF_BACKUP_TYPE,
      Version: version,
      UsedMemory: server.usedMemory,
      UsedMemoryRss: server.usedMemoryRss,
      MaxDBNumber: server.maxDbNumber,
    };
    log.debug(`Backup sentinel: ${encodeRedisSentinel(sentinel)}`);
    await writeRedisSentinel(storage, name, sentinel, signal);
  } catch (err) {
    disk.stop();
    await removeFailedUpload(storage, name);
    throw err;
  } finally {
    await unpin(pins);
  }
  log.info(`Backup ${name} finished`);
  return name;
}

// The pieces every stream-backup flavour (MySQL/MariaDB, Redis) shares around its external commands: a fresh
// `<prefix><UTC time>` backup name, running WALG_STREAM_CREATE_COMMAND while its stdout is uploaded, removing what
// a failed push left behind, and piping a stored stream into WALG_STREAM_RESTORE_COMMAND. Which objects are
// uploaded and what the sentinel says stays with each engine.

import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WalgError, describeError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import type { Storage } from '../storage/types.ts';
import type { Crypter } from '../pipeline/types.ts';
import { runShell } from './command.ts';
import { deleteObjects, listKeys } from './catalog.ts';
import { backupFolder, sentinelKey } from './layout.ts';
import { openBackupStream } from './stream.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** compat: utility.BackupTimeFormat of a start time, UTC: 20060102T150405Z. */
export function backupTimeName(prefix: string, d: Date): string {
  return `${prefix}${d.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;
}

/**
 * A `<prefix><UTC time>` backup name not yet used in storage (neither a sentinel nor objects under its folder).
 * Names have one-second resolution: when taken, it waits for the next second.
 */
export async function freshBackupName(storage: Storage, prefix: string, signal: AbortSignal): Promise<{ name: string; start: Date }> {
  for (;;) {
    const start = new Date();
    const name = backupTimeName(prefix, start);
    if (!(await storage.exists(sentinelKey(name), { signal })) && (await listKeys(storage, backupFolder(name), signal)).length === 0) return { name, start };
    await sleep(1000 - (Date.now() % 1000) + 5);
  }
}

/** Deletes whatever was uploaded for a failed backup; never throws (a leftover is reported, not fatal twice). */
export async function removeFailedUpload(storage: Storage, name: string): Promise<void> {
  // Own deadline: the run's signal may be the very cancellation that made the push fail.
  const signal = AbortSignal.timeout(120_000);
  try {
    const keys = await listKeys(storage, backupFolder(name), signal);
    if (keys.length === 0) return;
    log.warn(`removing ${keys.length} object(s) of the failed backup ${name}`);
    await deleteObjects(storage, keys, { signal });
  } catch (err) {
    log.warn(`failed to remove the partial upload of ${name}: ${describeError(err)}`);
  }
}

/**
 * Runs the backup create command and hands its stdout to `upload`. Resolves with upload's result only when both
 * the upload and the command succeeded. The command's own failure explains a short stream; an upload failure
 * explains a command killed because nobody reads its output any more.
 */
export async function uploadCommandOutput<T>(command: string, upload: (stream: Readable) => Promise<T>, opts: { signal: AbortSignal; env?: NodeJS.ProcessEnv }): Promise<T> {
  log.info(`Command to execute: ${command}`);
  const cmd = runShell(command, { what: 'backup create command', stdout: 'pipe', stderr: 'keep', signal: opts.signal, env: opts.env });
  let uploadError: unknown;
  let result: T | undefined;
  try {
    result = await upload(cmd.stdout!);
  } catch (err) {
    uploadError = err;
    cmd.child.kill('SIGTERM');
  }
  let commandError: unknown;
  try { await cmd.done; } catch (err) { commandError = err; }
  if (uploadError !== undefined) throw uploadError;
  if (commandError !== undefined) throw commandError;
  return result as T;
}

/** Options of streamToCommand. */
export interface StreamToCommandOptions {
  storage: Storage;
  crypter?: Crypter;
  backup: string;
  restoreCommand: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/**
 * Streams the backup (decrypted, decompressed, split streams merged) into the restore command's stdin. A restore
 * command that exits early or unsuccessfully is reported by its exit status (not as a broken pipe); a failed read
 * (corrupt object, wrong key, storage error) is reported as itself.
 */
export async function streamToCommand(o: StreamToCommandOptions): Promise<void> {
  const stream = await openBackupStream(o.storage, o.crypter, o.backup, o.signal);
  const cmd = runShell(o.restoreCommand, { what: 'restore command', stdin: 'pipe', stdout: 'stderr', stderr: 'keep', signal: o.signal, env: o.env });
  let streamError: unknown;
  try {
    await pipeline(stream, cmd.stdin!, { signal: o.signal });
  } catch (err) {
    streamError = err;
    stream.destroy();
    cmd.stdin!.destroy();
  }
  let commandError: unknown;
  try { await cmd.done; } catch (err) { commandError = err; }
  const pipeClosed = (e: unknown) => ['EPIPE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_PREMATURE_CLOSE'].includes((e as NodeJS.ErrnoException)?.code ?? '');
  if (streamError !== undefined && !pipeClosed(streamError) && streamError instanceof WalgError) throw streamError;
  if (commandError !== undefined) throw commandError;
  if (streamError !== undefined) throw new WalgError(`Failed to fetch backup: ${describeError(streamError)}`, { cause: streamError });
}

// Restoring a MySQL backup chain (compat: internal/databases/mysql/xtrabackup.go xtrabackupFetchClassic): the full
// backup and then each increment, oldest first. The base is streamed into WALG_STREAM_RESTORE_COMMAND and prepared
// with WALG_MYSQL_BACKUP_PREPARE_COMMAND; each increment is streamed into the same command with its last word (the
// target directory) replaced by a fresh directory under WALG_MYSQL_INCREMENTAL_BACKUP_DST, and the prepare command
// gets `--incremental-dir=<that directory>`. Every step but the last is prepared with `--apply-log-only`, except
// for mariabackup, which has no such option and needs none (a deliberate difference, docs/compat.md). The whole
// chain is read before anything runs: a missing parent or a missing prepare command fails with nothing restored.

import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, CorruptObjectError, ObjectNotFoundError, WalgError, describeError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import type { Storage } from '../storage/types.ts';
import type { Crypter } from '../pipeline/types.ts';
import { runShell } from '../backup/command.ts';
import { streamToCommand } from '../backup/stream-command.ts';
import { readStreamSentinel } from './sentinel.ts';
import type { StreamSentinel } from './sentinel.ts';

/** One backup of a chain. */
export interface ChainStep { name: string; sentinel: StreamSentinel }

/** An incremental whose parent is not in storage. */
export class MissingParentError extends WalgError {
  override readonly code = 'MISSING_PARENT';
}

const MAX_CHAIN = 10_000;

/**
 * The chain that restores `backup`, full backup first. Throws MissingParentError when a parent named by DeltaFrom
 * has no sentinel, CorruptObjectError for an incremental that names no parent or a cycle.
 */
export async function resolveBackupChain(storage: Storage, backup: string, signal?: AbortSignal): Promise<ChainStep[]> {
  const chain: ChainStep[] = [{ name: backup, sentinel: await readStreamSentinel(storage, backup, signal) }];
  for (;;) {
    const child = chain[0]!;
    if (!child.sentinel.IsIncremental) return chain;
    const parent = child.sentinel.DeltaFrom;
    if (!parent) throw new CorruptObjectError(`backup ${child.name} is incremental but its sentinel names no parent (DeltaFrom)`);
    if (chain.some((s) => s.name === parent) || chain.length >= MAX_CHAIN) throw new CorruptObjectError(`backup ${child.name}: the chain of parents loops at ${parent}`);
    let sentinel: StreamSentinel;
    try {
      sentinel = await readStreamSentinel(storage, parent, signal);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) {
        throw new MissingParentError(`backup ${child.name} is incremental (delta from ${parent}), but ${parent} is not in storage: the chain cannot be restored`, { cause: err });
      }
      throw err;
    }
    chain.unshift({ name: parent, sentinel });
  }
}

/** Options of restoreBackupChain. */
export interface RestoreChainOptions {
  storage: Storage;
  crypter?: Crypter;
  backup: string;
  restoreCommand: string;
  prepareCommand?: string;
  /** WALG_MYSQL_INCREMENTAL_BACKUP_DST: where each increment is extracted before it is applied. */
  incrementalDst: string;
  signal?: AbortSignal;
}

/** compat: replaceCommandArgument — the first occurrence of the command's last word is replaced. */
export function restoreCommandFor(command: string, dir: string): string {
  const words = command.trim().split(/\s+/);
  const last = words.at(-1) ?? '';
  return last === '' ? command : command.replace(last, dir);
}

/** The prepare command of one step: --incremental-dir for an increment, --apply-log-only unless it is the last. */
export function prepareCommandFor(command: string, opts: { incrementalDir?: string; isLast: boolean }): string {
  let out = command;
  if (opts.incrementalDir !== undefined) out += ` --incremental-dir=${opts.incrementalDir}`;
  // mariabackup (MariaDB 10.2+) refuses --apply-log-only: its prepare of a base can take increments anyway.
  if (!opts.isLast && !/\bmariabackup\b/.test(command)) out += ' --apply-log-only';
  return out;
}

/** Restores `backup` and every parent it needs, each prepared in order. */
export async function restoreBackupChain(o: RestoreChainOptions): Promise<void> {
  const chain = await resolveBackupChain(o.storage, o.backup, o.signal);
  if (chain.length > 1) {
    if (!o.prepareCommand) throw new ConfigError(`WALG_MYSQL_BACKUP_PREPARE_COMMAND is required to restore the incremental backup ${o.backup}: its increments are applied by the prepare command`);
    log.info(`Backup ${o.backup} is restored as a chain of ${chain.length}: ${chain.map((s) => s.name).join(', ')}`);
  }
  for (let i = 0; i < chain.length; i++) {
    const step = chain[i]!;
    const isLast = i === chain.length - 1;
    if (step.sentinel.IsIncremental) log.info(`Delta from ${step.sentinel.DeltaFrom} at LSN ${(step.sentinel.DeltaLSN ?? 0n).toString(16)}`);
    const dir = step.sentinel.IsIncremental ? await mkdtemp(join(o.incrementalDst, 'wal-g')) : undefined;
    try {
      const restoreCommand = dir !== undefined ? restoreCommandFor(o.restoreCommand, dir) : o.restoreCommand;
      log.info(`Restoring ${step.name} with cmd ${restoreCommand}`);
      await streamToCommand({ storage: o.storage, crypter: o.crypter, backup: step.name, restoreCommand, signal: o.signal });
      log.info(`Restored ${step.name}`);
      if (!o.prepareCommand) { log.info('WALG_MYSQL_BACKUP_PREPARE_COMMAND not configured. Skipping prepare phase'); continue; }
      const prepare = prepareCommandFor(o.prepareCommand, { incrementalDir: dir, isLast });
      log.info(`Preparing ${step.name} with cmd ${prepare}`);
      const prep = runShell(prepare, { what: 'backup prepare command', stdout: 'stderr', stderr: 'keep', signal: o.signal });
      try { await prep.done; } catch (err) {
        throw new WalgError(`failed to prepare fetched backup: ${describeError(err)}`, { cause: err });
      }
      log.info(`Prepared ${step.name}`);
    } finally {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    }
  }
}

// External commands of the stream-backup flavours (WALG_STREAM_CREATE_COMMAND, WALG_STREAM_RESTORE_COMMAND, MySQL's
// WALG_MYSQL_BACKUP_PREPARE_COMMAND and WALG_MYSQL_BINLOG_REPLAY_COMMAND): run as `$SHELL -c "<command>"`, /bin/sh
// when SHELL is empty, as WAL-G does. A command's stderr is either passed through or kept (its last 64 KiB) so a
// failure can be reported in one line, as WAL-G buffers the create and restore commands' output.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { WalgError } from '../core/errors.ts';
import { log } from '../core/log.ts';

/** An external command failed to start or exited unsuccessfully. */
export class ExternalCommandError extends WalgError {
  override readonly code = 'COMMAND_FAILED';
}

const STDERR_TAIL = 64 * 1024;

/** A started shell command. */
export interface RunningCommand {
  child: ChildProcess;
  /** The child's stdin when requested with stdin: 'pipe'. */
  stdin?: Writable;
  /** The child's stdout when requested with stdout: 'pipe'. */
  stdout?: Readable;
  /**
   * Resolves when the command exited with status 0; rejects with ExternalCommandError ("<what> failed: exit status
   * N: <last stderr line>") otherwise. Never rejects before the process has exited.
   */
  done: Promise<void>;
  /** The kept tail of stderr (empty when stderr is passed through). */
  stderrTail(): string;
}

/** Options of runShell. */
export interface ShellOptions {
  /** Words for messages, e.g. "backup create command". */
  what: string;
  stdin?: 'pipe' | 'ignore';
  /** 'pipe' to read it, 'ignore' to drop it, 'stderr' to send it to our stderr. */
  stdout?: 'pipe' | 'ignore' | 'stderr';
  /** 'keep' buffers the tail for the error message; 'inherit' passes it through. */
  stderr?: 'keep' | 'inherit';
  env?: NodeJS.ProcessEnv;
  /** Cancelling kills the command (SIGTERM). */
  signal?: AbortSignal;
}

/** The shell WAL-G runs commands with: $SHELL, or /bin/sh when it is empty. */
export function commandShell(env: NodeJS.ProcessEnv = process.env): string {
  return env.SHELL ? env.SHELL : '/bin/sh';
}

/** Starts `command` through the shell. */
export function runShell(command: string, opts: ShellOptions): RunningCommand {
  const env = opts.env ?? process.env;
  const child = spawn(commandShell(env), ['-c', command], {
    env,
    stdio: [opts.stdin ?? 'ignore', opts.stdout === 'pipe' ? 'pipe' : opts.stdout === 'stderr' ? 2 : 'ignore', opts.stderr === 'keep' ? 'pipe' : 'inherit'],
  });
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    tail += s;
    if (tail.length > STDERR_TAIL) tail = tail.slice(-STDERR_TAIL);
  });
  const onAbort = () => { child.kill('SIGTERM'); };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  // A command that exits without reading all of its stdin makes our writes fail with EPIPE; the exit status is
  // what gets reported, so the stream error itself is swallowed here.
  child.stdin?.on('error', () => {});
  const done = new Promise<void>((resolve, reject) => {
    let spawnError: Error | undefined;
    child.on('error', (err) => { spawnError = err; });
    child.on('close', (code, sig) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (spawnError) { reject(new ExternalCommandError(`failed to start ${opts.what}: ${spawnError.message}`, { cause: spawnError })); return; }
      if (code === 0) { resolve(); return; }
      const status = sig ? `signal: ${sig}` : `exit status ${code}`;
      const last = tail.split('\n').map((l) => l.trim()).filter((l) => l !== '').at(-1);
      if (tail && log.isDevel) log.debug(`${opts.what} output:\n${tail}`);
      reject(new ExternalCommandError(`${opts.what} failed: ${status}${last ? `: ${last}` : ''}`));
    });
  });
  done.catch(() => {}); // callers await it; an early unrelated failure must not make it an unhandled rejection
  return { child, stdin: child.stdin ?? undefined, stdout: child.stdout ?? undefined, done, stderrTail: () => tail };
}

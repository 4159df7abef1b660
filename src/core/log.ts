// WAL-G's log line format: "<LEVEL>: YYYY/MM/DD HH:MM:SS.micro message", local time, on stderr or WALG_LOG_DESTINATION.
// compat: the tracelog library prints INFO/WARNING/ERROR at NORMAL, adds DEBUG at DEVEL, only ERROR at ERROR.

import { appendFileSync, openSync, closeSync, writeSync } from 'node:fs';

export type LogLevel = 'NORMAL' | 'DEVEL' | 'ERROR';
export const LOG_LEVELS: readonly LogLevel[] = ['NORMAL', 'DEVEL', 'ERROR'];

type Sink = (line: string) => void;

/** Formats a Date as WAL-G does: 2006/01/02 15:04:05.000000 in local time. */
export function formatLogTime(d: Date, micros = 0): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds() * 1000 + micros, 6)}`;
}

/** Process-wide logger. Configured once by the CLI; library code only calls the level methods. */
export class Logger {
  private level: LogLevel = 'NORMAL';
  private sink: Sink = (line) => process.stderr.write(line);
  private destination: string | undefined;
  private prefix = '';

  /** Sets the level and destination ('stderr' or a file path opened for append). Throws on a bad path. */
  configure(level: LogLevel, destination?: string, prefix = ''): void {
    this.level = level;
    this.prefix = prefix;
    if (destination && destination !== 'stderr') {
      // Open once to fail early with a clear error, then append per line: cheap, and survives logrotate.
      closeSync(openSync(destination, 'a'));
      this.destination = destination;
      this.sink = (line) => appendFileSync(destination, line);
    } else {
      this.destination = undefined;
      this.sink = (line) => {
        try { writeSync(2, line); } catch { /* stderr closed: nothing useful left to do */ }
      };
    }
  }

  /** Reopens the log file (daemon SIGUSR1). A no-op on stderr. */
  reopen(): void {
    if (this.destination) this.configure(this.level, this.destination, this.prefix);
  }

  /** Silences everything (used by the detached prefetch child unless DEVEL). */
  discard(): void { this.sink = () => {}; }

  get isDevel(): boolean { return this.level === 'DEVEL'; }
  get currentLevel(): LogLevel { return this.level; }

  private write(tag: string, msg: string): void {
    // Microsecond part from the high-resolution clock, as Go's log.Lmicroseconds prints.
    const nowMs = performance.timeOrigin + performance.now();
    const now = new Date(Math.floor(nowMs));
    this.sink(`${this.prefix}${tag}: ${formatLogTime(now, Math.floor((nowMs % 1) * 1000))} ${msg}\n`);
  }

  debug(msg: string): void { if (this.level === 'DEVEL') this.write('DEBUG', msg); }
  info(msg: string): void { if (this.level !== 'ERROR') this.write('INFO', msg); }
  warn(msg: string): void { if (this.level !== 'ERROR') this.write('WARNING', msg); }
  error(msg: string): void { this.write('ERROR', msg); }
}

/** The single logger instance. */
export const log = new Logger();

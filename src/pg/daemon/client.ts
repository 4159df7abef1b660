// The client side of the daemon protocol (WAL-G's cmd/daemonclient + internal/daemon/client.go): argument parsing
// with Go's flag rules, one request per connection, and the reply byte as the result.

import { connect } from 'node:net';
import { getSystemErrorMessage } from 'node:util';
import { parseDurationMs } from '../../config/load.ts';
import { UsageError, WalgError } from '../../core/errors.ts';
import { MSG, encodeMessage } from './protocol.ts';

/** The commands the client knows (compat: the `commands` map of walg-daemon-client). */
export const CLIENT_COMMANDS: Readonly<Record<string, { type: string; args: readonly string[] }>> = {
  'wal-push': { type: MSG.WAL_PUSH, args: ['wal_filepath'] },
  'wal-fetch': { type: MSG.WAL_FETCH, args: ['wal_name', 'destination_filename'] },
};

/** compat: the flag defaults of walg-daemon-client. */
export const DEFAULT_OPERATION_TIMEOUT_MS = 60_000;
export const DEFAULT_CONNECTION_TIMEOUT_MS = 5_000;

/** A parsed client invocation. */
export interface DaemonRequest {
  socketPath: string;
  /** Lower-cased command name, e.g. 'wal-fetch'. */
  command: string;
  type: string;
  args: string[];
  /** -timeout: deadline for the whole exchange once connected. */
  timeoutMs: number;
  /** -connection-timeout: deadline for connecting. */
  connectionTimeoutMs: number;
}

/**
 * A usage error of the client, carrying what the usage text needs: `commandUsage` is set (e.g.
 * "wal-fetch wal_name destination_filename") when the command is known but lacks arguments. `flagParse` is set
 * when Go's flag package raised it: 'error' (it printed the message and its usage to stderr first) or 'help'
 * (-h / -help: only its usage).
 */
export class DaemonClientUsageError extends UsageError {
  readonly commandUsage: string | undefined;
  readonly flagParse: 'error' | 'help' | undefined;
  constructor(message: string, commandUsage?: string, flagParse?: 'error' | 'help') {
    super(message);
    this.commandUsage = commandUsage;
    this.flagParse = flagParse;
  }
}

/** An error of Go's flag package (FlagSet.failf). */
function flagError(message: string): DaemonClientUsageError {
  return new DaemonClientUsageError(message, undefined, 'error');
}

const GO_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"', '\\': '\\\\', '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v',
};

/** compat: Go's %q (strconv.Quote) for what a command line holds: escapes, other control characters as \xNN. */
export function goQuote(v: string): string {
  return `"${v.replace(/["\\\x00-\x1f\x7f]/g, (c) => GO_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`;
}

/** compat: Go's flag.Duration — time.ParseDuration syntax, no blanks; a bare number other than 0 is rejected. */
function goDuration(flag: string, v: string): number {
  const bad = () => flagError(`invalid value ${goQuote(v)} for flag -${flag}: parse error`);
  if (v !== v.trim() || (/^[-+]?\d+$/.test(v) && Number(v) !== 0)) throw bad();
  try { return parseDurationMs(flag, v); } catch { throw bad(); }
}

/**
 * Parses `socket command args... [flags]` as walg-daemon-client does: the command is case-insensitive, its
 * positional arguments come first, and Go-style flags (`-timeout 5s`, `--timeout=5s`, `-connection-timeout`)
 * follow; parsing stops at the first non-flag word. Throws DaemonClientUsageError with WAL-G's messages.
 */
export function parseDaemonClientArgs(argv: readonly string[]): DaemonRequest {
  if (argv.length < 2) throw new DaemonClientUsageError('not enough arguments');
  const command = argv[1]!.toLowerCase();
  const spec = CLIENT_COMMANDS[command];
  if (!spec) throw new DaemonClientUsageError(`unsupported command ${command}`);
  if (argv.length < 2 + spec.args.length) {
    throw new DaemonClientUsageError('not enough command arguments', `${command} ${spec.args.join(' ')}`);
  }
  const req: DaemonRequest = {
    socketPath: argv[0]!,
    command,
    type: spec.type,
    args: argv.slice(2, 2 + spec.args.length),
    timeoutMs: DEFAULT_OPERATION_TIMEOUT_MS,
    connectionTimeoutMs: DEFAULT_CONNECTION_TIMEOUT_MS,
  };
  const rest = argv.slice(2 + spec.args.length);
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--') break;
    if (a.length < 2 || !a.startsWith('-')) break; // compat: Go's flag package stops at the first non-flag
    const body = a.startsWith('--') ? a.slice(2) : a.slice(1);
    if (body.startsWith('-') || body.startsWith('=')) throw flagError(`bad flag syntax: ${a}`);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    if (name === 'h' || name === 'help') throw new DaemonClientUsageError('flag: help requested', undefined, 'help');
    if (name !== 'timeout' && name !== 'connection-timeout') throw flagError(`flag provided but not defined: -${name}`);
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else {
      if (i + 1 >= rest.length) throw flagError(`flag needs an argument: -${name}`);
      value = rest[++i]!;
    }
    const ms = goDuration(name, value);
    if (name === 'timeout') req.timeoutMs = ms;
    else req.connectionTimeoutMs = ms;
  }
  return req;
}

/** compat: the usage text walg-daemon-client prints to stdout after a usage error (text/template output). */
export function daemonClientUsage(err: DaemonClientUsageError): string {
  let s = `Error: ${err.message}\n\nwalg-daemon-client is lightweight client for WAL-G daemon\n\nUsage:\n`;
  s += `  walg-daemon-client socket ${err.commandUsage ?? 'command [command_args]'} [flags]\n`;
  if (!err.commandUsage) {
    s += '\nArguments:\n  socket\t- name of unix socket to communicate with wal-g daemon\n'
      + '  command\t- command to send to the daemon: wal-push, wal-fetch\n'
      + '  command_args\t- command specific arguments\n';
  }
  return `${s}\nFlags:\n`;
}

/** compat: Go's flag.PrintDefaults for the client's two flags (written to stderr). */
export const DAEMON_CLIENT_FLAG_DEFAULTS =
  '  -connection-timeout duration\n    \tdaemon socket connection timeout (default 5s)\n'
  + '  -timeout duration\n    \tdaemon operation execution timeout (default 1m0s)\n';

/**
 * compat: what Go's flag package writes to stderr while it fails to parse (before walg-daemon-client prints its
 * usage): the message and "Usage:" with the defaults, only the latter for -h; nothing for the client's own errors.
 */
export function flagParseOutput(err: DaemonClientUsageError): string {
  if (err.flagParse === 'error') return `${err.message}\nUsage:\n${DAEMON_CLIENT_FLAG_DEFAULTS}`;
  if (err.flagParse === 'help') return `Usage:\n${DAEMON_CLIENT_FLAG_DEFAULTS}`;
  return '';
}

/**
 * compat: the text of a Go *os.PathError / *net.OpError cause: libuv's strerror texts are Go's syscall texts
 * ("no such file or directory", "connection refused"); anything without an errno keeps its own message.
 */
export function goErrnoText(err: unknown): string {
  const errno = (err as NodeJS.ErrnoException | undefined)?.errno;
  if (typeof errno === 'number' && errno < 0) {
    try { return getSystemErrorMessage(errno); } catch { /* not a libuv errno */ }
  }
  return err instanceof Error ? err.message : String(err);
}

/** compat: Go formats a []string as "[a b]". */
function goList(args: readonly string[]): string {
  return `[${args.join(' ')}]`;
}

/**
 * Sends one request on a new connection and resolves when the daemon answers 'O'. Any other reply rejects with
 * a DaemonReplyError carrying it ('N' = archive missing); connection, write, read and timeout failures reject
 * with a WalgError worded as WAL-G's client words them.
 */
export function sendDaemonRequest(req: DaemonRequest): Promise<void> {
  const msg = encodeMessage(req.type, req.args);
  // compat: Go's net.OpError texts for the dial and for I/O on the connection (an unbound client socket is "@").
  const dialError = (detail: string, cause?: Error) =>
    new WalgError(`unix socket dial error: dial unix ${req.socketPath}: ${detail}`, { cause });
  const ioError = (op: 'read' | 'write', detail: string, cause?: Error) =>
    new WalgError(`unix socket ${op} error: ${op} unix @->${req.socketPath}: ${detail}`, { cause });
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let connected = false;
    let written = false;
    let opTimer: NodeJS.Timeout | undefined;
    let connTimer: NodeJS.Timeout | undefined;
    // compat: Go's DialContext with an expired context fails before connecting, as does I/O past the deadline.
    if (req.connectionTimeoutMs <= 0) { reject(dialError('i/o timeout')); return; }
    const sock = connect({ path: req.socketPath });
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(connTimer);
      clearTimeout(opTimer);
      sock.destroy();
      if (err) reject(err); else resolve();
    };
    connTimer = setTimeout(() => finish(dialError('i/o timeout')), req.connectionTimeoutMs);
    sock.on('connect', () => {
      connected = true;
      clearTimeout(connTimer);
      if (req.timeoutMs <= 0) { finish(ioError('write', 'i/o timeout')); return; }
      opTimer = setTimeout(() => finish(ioError(written ? 'read' : 'write', 'i/o timeout')), req.timeoutMs);
      sock.write(msg, (err) => { if (!err) written = true; });
    });
    sock.on('data', (chunk: Buffer) => {
      const reply = String.fromCharCode(chunk[0]!);
      if (reply === MSG.OK) finish();
      else finish(new DaemonReplyError(reply, req));
    });
    sock.on('end', () => finish(new WalgError('unix socket read error: EOF')));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      const text = goErrnoText(err);
      if (!connected) finish(dialError(`connect: ${text}`, err));
      else if (err.syscall === 'write' || !written) finish(ioError('write', `write: ${text}`, err));
      else finish(ioError('read', `read: ${text}`, err));
    });
  });
}

/** The daemon answered something other than 'O'. */
export class DaemonReplyError extends WalgError {
  override readonly code = 'DAEMON_REPLY';
  /** The reply byte, e.g. 'E' or 'N'. */
  readonly reply: string;
  constructor(reply: string, req: DaemonRequest) {
    super(`daemon command run error [message type: ${req.type}, args: ${goList(req.args)}, daemon response: ${reply}]`);
    this.reply = reply;
  }
}

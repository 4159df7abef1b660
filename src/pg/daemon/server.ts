// `wal-g daemon <socket>`: a long-running server on a UNIX socket that runs wal-push and wal-fetch for
// archive_command / restore_command clients with warm settings, storage and codecs (WAL-G's daemon_handler.go).
// The operations are injected, so the server (protocol, paths, timeouts, shutdown) is testable without storage.

import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { chmod, lstat, unlink } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { ArchiveNonExistenceError, CancelledError, ConfigError, LocalFileError, WalgError, describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { walgNative } from '../../core/native.ts';
import { ByteReader, MSG, bytesToArgs, readMessage } from './protocol.ts';
import type { DaemonMessage } from './protocol.ts';

/** compat: the systemd watchdog message WAL-G sends, and its period. */
export const SD_NOTIFY_WATCHDOG = 'WATCHDOG=1';
export const WATCHDOG_INTERVAL_MS = 30_000;

/** What the daemon does for each request. Both throw on failure; walFetch throws ArchiveNonExistenceError for a missing file. */
export interface DaemonOperations {
  /** Archives the WAL file at the absolute `walFilePath`. */
  walPush(walFilePath: string, signal: AbortSignal): Promise<void>;
  /** Fetches WAL file `walName` to the absolute `destination`. */
  walFetch(walName: string, destination: string, signal: AbortSignal): Promise<void>;
}

/** Options of startDaemon. */
export interface DaemonOptions {
  socketPath: string;
  /** PGDATA: relative paths in requests are resolved against it (compat: WAL-G requires it). */
  pgdata?: string;
  /** WALG_DAEMON_WAL_UPLOAD_TIMEOUT in ms: limit of each wal-push / wal-fetch request. */
  operationTimeoutMs: number;
  ops: DaemonOperations;
  /** NOTIFY_SOCKET, for the systemd watchdog. */
  notifySocket?: string;
  /** Watchdog period (default 30 s; tests shorten it). */
  watchdogIntervalMs?: number;
  /** A connection that has not sent a whole message within this time is dropped (default: operationTimeoutMs). */
  messageTimeoutMs?: number;
}

/**
 * The absolute path of the file a wal-push request names.
 * compat: WAL-G joins `PGDATA/pg_wal/<body>`, which is right for `%f` (the documented `wal-push %f`). A body with
 * a '/' (`%p` = `pg_wal/<name>`, which WAL-G would turn into `pg_wal/pg_wal/<name>` and fail on) is taken
 * relative to PGDATA instead, and an absolute path as it is.
 */
export function resolvePushPath(body: string, pgdata: string | undefined): string {
  if (isAbsolute(body)) return body;
  if (!pgdata) throw new ConfigError('PGDATA is not set in the conf');
  return body.includes('/') ? join(pgdata, body) : join(pgdata, 'pg_wal', body);
}

/**
 * The absolute destination of a wal-fetch request: `%p` (`pg_wal/RECOVERYXLOG`) is relative to PGDATA, because
 * restore_command runs in the data directory while the daemon does not (compat: WAL-G's getFullPath; an absolute
 * path is used as it is, where WAL-G would prefix PGDATA unless the path already contains it).
 */
export function resolveFetchPath(destination: string, pgdata: string | undefined): string {
  if (isAbsolute(destination)) return destination;
  if (!pgdata) throw new ConfigError('PGDATA is not set in the conf');
  return join(pgdata, destination);
}

/** systemd's notification that the daemon is serving (WAL-G sends none; a Type=notify unit needs it). */
export const SD_NOTIFY_READY = 'READY=1';
/** systemd's notification that the daemon is shutting down. */
export const SD_NOTIFY_STOPPING = 'STOPPING=1';

/**
 * compat: WAL-G's SdNotify — sends `state` as one datagram to NOTIFY_SOCKET (a path, or "@name" for the abstract
 * namespace), through the native addon since Node.js has no UNIX datagram sockets. True when there is no socket
 * to notify or the datagram was sent; false when it could not be (the addon missing, or sendto failed).
 */
export function sdNotify(state: string, notifySocket: string | undefined): boolean {
  if (!notifySocket) return true;
  try {
    return walgNative().sdNotify(notifySocket, state);
  } catch {
    return false;
  }
}

/** The watchdog period: half of systemd's WATCHDOG_USEC when it is set (as sd_watchdog_enabled advises), else 30 s. */
export function watchdogPeriodMs(env: NodeJS.ProcessEnv = process.env): number {
  const usec = Number(env.WATCHDOG_USEC);
  return Number.isFinite(usec) && usec > 0 ? Math.max(1, Math.floor(usec / 2000)) : WATCHDOG_INTERVAL_MS;
}

/** A running daemon: `close()` stops accepting, lets requests in flight finish, and removes the socket file. */
export interface RunningDaemon {
  readonly socketPath: string;
  close(): Promise<void>;
}

/** Removes a stale socket file; refuses to delete anything that is not a socket. */
async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try { st = await lstat(path); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  // compat: WAL-G removes whatever is there. A mistyped path must not delete a data file, so only sockets go.
  if (!st.isSocket()) throw new LocalFileError(`Failed to remove socket file: '${path}' exists and is not a socket`);
  try { await unlink(path); } catch (err) {
    throw new LocalFileError(`Failed to remove socket file: ${describeError(err)}`, { cause: err });
  }
}

/**
 * Listens on `path` with a socket file only its owner can use: the umask is narrowed around the bind (which
 * server.listen does synchronously), so there is no moment at which others could connect, and the mode is set again
 * afterwards. compat: WAL-G leaves the mode to the process umask.
 */
async function listen(server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new LocalFileError(`Error on listening socket: ${err.message}`, { cause: err }));
    server.once('error', onError);
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => { server.off('error', onError); resolve(); });
    } finally {
      process.umask(umask);
    }
  });
  await chmod(path, 0o600);
}

/** Writes the reply byte, then closes our side once it is flushed. */
function replyAndClose(conn: Socket, reply: string): void {
  if (conn.destroyed || !conn.writable) { conn.destroy(); return; }
  conn.end(reply, () => conn.destroy());
}

/** Runs `op` with the per-request time limit; the timeout rejects even if the operation ignores its signal. */
async function withTimeout(parent: AbortSignal, ms: number, what: string, op: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const ac = new AbortController();
  const onParent = () => ac.abort(parent.reason);
  parent.addEventListener('abort', onParent, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new CancelledError(`${what}: context deadline exceeded (WALG_DAEMON_WAL_UPLOAD_TIMEOUT ${ms} ms)`);
      ac.abort(err);
      reject(err);
    }, ms);
  });
  const run = op(ac.signal);
  run.catch(() => {}); // a late failure after the timeout answered is already reported
  try {
    await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
    parent.removeEventListener('abort', onParent);
  }
}

/** Runs one request and returns the reply byte; throws for E (compat: WAL-G's message handlers). */
async function handleMessage(msg: DaemonMessage, opts: DaemonOptions, stopping: AbortSignal): Promise<string> {
  switch (msg.type) {
    case MSG.CHECK:
      log.debug('configuration successfully checked');
      return MSG.OK;
    case MSG.WAL_PUSH: {
      const walFileName = msg.body.toString('utf8');
      log.debug(`wal file name: ${walFileName}`);
      const fullPath = resolvePushPath(walFileName, opts.pgdata);
      log.debug(`starting wal-push: ${fullPath}`);
      try {
        await withTimeout(stopping, opts.operationTimeoutMs, 'wal-push', (signal) => opts.ops.walPush(fullPath, signal));
      } catch (err) {
        throw new WalgError('file archiving failed', { cause: err });
      }
      log.debug(`successfully archived: ${walFileName}`);
      return MSG.OK;
    }
    case MSG.WAL_FETCH: {
      const args = bytesToArgs(msg.body);
      if (args.length !== 2) throw new WalgError('wal-fetch incorrect arguments count');
      const [walName, location] = args as [string, string];
      const fullPath = resolveFetchPath(location, opts.pgdata);
      log.debug(`starting wal-fetch: ${walName} -> ${fullPath}`);
      try {
        await withTimeout(stopping, opts.operationTimeoutMs, 'wal-fetch', (signal) => opts.ops.walFetch(walName, fullPath, signal));
      } catch (err) {
        if (err instanceof ArchiveNonExistenceError) {
          // compat: a warning, not an error — recovery probes past the end of the archive all the time.
          log.warn(`ArchiveNonExistenceError: ${err.message}`);
          return MSG.ARCHIVE_MISSING;
        }
        throw new WalgError('WAL fetch failed', { cause: err });
      }
      log.debug(`successfully fetched: ${walName} -> ${fullPath}`);
      return MSG.OK;
    }
    default:
      throw new WalgError(`unexpected message type: ${msg.type}`);
  }
}

/**
 * Starts listening on `socketPath` (a stale socket file there is removed first) and serves clients until close().
 * Each connection is read message by message (compat: ProcessConnection): `C` is answered `O` and the loop goes
 * on; `F` (wal-push) and `f` (wal-fetch) are answered `O`, `N` (wal-fetch of a missing file) or `E` and end the
 * connection; an unknown type or a malformed message is answered `E`. Connections are served concurrently.
 */
export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  await removeStaleSocket(opts.socketPath);
  const stopping = new AbortController();
  const connections = new Set<Socket>();
  /** Connections whose request is being run: a shutdown waits for them. */
  const busy = new Set<Socket>();
  const active = new Set<Promise<void>>();
  let shuttingDown = false;

  const handle = (msg: DaemonMessage): Promise<string> => handleMessage(msg, opts, stopping.signal);

  const messageTimeoutMs = opts.messageTimeoutMs ?? opts.operationTimeoutMs;
  const serveConnection = async (conn: Socket): Promise<void> => {
    const reader = new ByteReader(conn);
    for (;;) {
      let msg: DaemonMessage | null;
      // A client that goes silent (or trickles) before its message is whole is dropped: it would hold the
      // connection and its buffers for ever. The reader then sees the close and the loop ends.
      const silent = setTimeout(() => {
        log.warn(`daemon: no whole message within ${messageTimeoutMs} ms, connection dropped`);
        conn.destroy();
      }, messageTimeoutMs);
      try {
        msg = await readMessage(reader);
      } catch (err) {
        clearTimeout(silent);
        log.error(`Message loop failure: read message, err: ${describeError(err)}`);
        replyAndClose(conn, MSG.ERROR);
        return;
      }
      clearTimeout(silent);
      // A client that only sent `C` and hung up: WAL-G logs the EOF as a failure; it is the normal end here.
      if (msg === null) { conn.end(() => conn.destroy()); return; }
      let reply: string;
      busy.add(conn);
      try {
        reply = await handle(msg);
      } catch (err) {
        log.error(`Message loop failure: handle message: ${describeError(err)}`);
        replyAndClose(conn, MSG.ERROR);
        return;
      } finally {
        busy.delete(conn);
      }
      if (shuttingDown) { replyAndClose(conn, reply); return; }
      if (msg.type === MSG.CHECK) {
        conn.write(reply);
        continue;
      }
      replyAndClose(conn, reply);
      return;
    }
  };

  const server = createServer({ allowHalfOpen: true }, (conn) => {
    connections.add(conn);
    conn.on('error', (err) => log.debug(`daemon connection error: ${err.message}`));
    conn.on('close', () => connections.delete(conn));
    const p = serveConnection(conn).catch((err) => log.error(`Message loop failure: ${describeError(err)}`));
    active.add(p);
    void p.finally(() => active.delete(p));
  });
  await listen(server, opts.socketPath);
  server.on('error', (err) => log.error(`daemon listener error: ${err.message}`));

  // READY=1 once listening (WAL-G sends none), then WATCHDOG=1 every period (compat: 30 s) when NOTIFY_SOCKET is set.
  let watchdog: NodeJS.Timeout | undefined;
  if (opts.notifySocket) {
    if (sdNotify(SD_NOTIFY_READY, opts.notifySocket) && sdNotify(SD_NOTIFY_WATCHDOG, opts.notifySocket)) {
      watchdog = setInterval(() => sdNotify(SD_NOTIFY_WATCHDOG, opts.notifySocket), opts.watchdogIntervalMs ?? watchdogPeriodMs());
      watchdog.unref();
    } else {
      log.warn(`NOTIFY_SOCKET is set, but ${SD_NOTIFY_READY} could not be sent to '${opts.notifySocket}'`);
    }
  }

  let closing: Promise<void> | undefined;
  return {
    socketPath: opts.socketPath,
    close(): Promise<void> {
      closing ??= (async () => {
        clearInterval(watchdog);
        if (opts.notifySocket) sdNotify(SD_NOTIFY_STOPPING, opts.notifySocket);
        shuttingDown = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Requests in flight finish (each within its own time limit) and are answered; connections waiting for a
        // message are dropped now. What is still running after the limit is aborted and answered E.
        for (const c of connections) if (!busy.has(c)) c.destroy();
        const settle = Promise.allSettled([...active]);
        await Promise.race([settle, new Promise((r) => setTimeout(r, opts.operationTimeoutMs + 1_000).unref())]);
        stopping.abort(new CancelledError('daemon shutting down'));
        await Promise.race([Promise.allSettled([...active]), new Promise((r) => setTimeout(r, 1_000).unref())]);
        for (const c of connections) c.destroy();
        await closed;
        await unlink(opts.socketPath).catch(() => {});
      })();
      return closing;
    },
  };
}

/**
 * Runs the daemon until `signal` aborts (SIGINT/SIGTERM), then shuts it down cleanly. SIGUSR1 reopens the log
 * file meanwhile (compat: for logrotate). Resolves after the socket file is removed.
 */
export async function runDaemon(opts: DaemonOptions, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  const daemon = await startDaemon(opts);
  const onUsr1 = () => {
    try { log.reopen(); } catch (err) { log.error(`error configuring logging: ${describeError(err)}`); }
  };
  process.on('SIGUSR1', onUsr1);
  try {
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    log.info('daemon shutting down');
  } finally {
    process.off('SIGUSR1', onUsr1);
    await daemon.close();
  }
}

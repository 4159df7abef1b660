// Our own small PostgreSQL protocol client for replication connections (`replication=database|true`), which
// node-postgres cannot drive (BASE_BACKUP's CopyOut between result sets, START_REPLICATION's CopyBoth). It resolves
// libpq's PG* variables with host lists (the first host that answers wins), TLS by PGSSLMODE, passwords from
// PGPASSWORD or the pgpass file, and trust, cleartext, md5 and SCRAM-SHA-256 authentication. Messages are read
// with backpressure: the socket pauses while unread messages pile up.

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { log } from '../../core/log.ts';
import { PostgresError } from '../postgres-client.ts';
import {
  MessageSplitter, SSL_REQUEST, cstring, frontend, noticeText, parseDataRow, parseNotice, parseRowDescription,
  queryMessage, startupMessage,
} from './wire.ts';
import type { BackendMessage, ResultSet, ServerNotice } from './wire.ts';

/** A server ErrorResponse, with its fields. */
export class ServerError extends PostgresError {
  readonly notice: ServerNotice;
  constructor(notice: ServerNotice) {
    super(noticeText(notice));
    this.notice = notice;
  }
}

/** One place to connect to: a TCP host or a Unix socket directory, and a port. */
export interface PgEndpoint {
  host: string;
  port: number;
}

/** Everything a replication connection needs, resolved from the environment. */
export interface ReplicationSettings {
  endpoints: PgEndpoint[];
  user: string;
  database?: string;
  password?: string;
  passFile?: string;
  applicationName: string;
  sslMode: string;
  sslRootCert?: string;
  sslCert?: string;
  sslKey?: string;
  connectTimeoutMs: number;
}

/** libpq's PG* variables, with PGHOST/PGPORT lists (`a,b` with `5432,5433` or one port for all). */
export function replicationSettings(env: NodeJS.ProcessEnv = process.env): ReplicationSettings {
  const ports = (env.PGPORT ?? '').split(',').map((p) => Number.parseInt(p.trim(), 10) || 5432);
  let hosts = (env.PGHOST ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  if (!hosts.length) {
    const port = ports[0] ?? 5432;
    hosts = [['/var/run/postgresql', '/tmp'].find((d) => existsSync(`${d}/.s.PGSQL.${port}`)) ?? 'localhost'];
  }
  const endpoints = hosts.map((host, i) => ({ host, port: ports.length > 1 ? (ports[i] ?? 5432) : (ports[0] ?? 5432) }));
  let user = env.PGUSER;
  if (!user) try { user = userInfo().username; } catch { user = 'postgres'; }
  const home = env.HOME || (() => { try { return homedir(); } catch { return ''; } })();
  return {
    endpoints, user, database: env.PGDATABASE || undefined, password: env.PGPASSWORD || undefined,
    passFile: env.PGPASSFILE || (home ? join(home, '.pgpass') : undefined),
    applicationName: env.PGAPPNAME || 'wal-g',
    sslMode: (env.PGSSLMODE || 'prefer').toLowerCase(),
    sslRootCert: env.PGSSLROOTCERT || (home && existsSync(join(home, '.postgresql/root.crt')) ? join(home, '.postgresql/root.crt') : undefined),
    sslCert: env.PGSSLCERT || undefined, sslKey: env.PGSSLKEY || undefined,
    connectTimeoutMs: (Number.parseInt(env.PGCONNECT_TIMEOUT ?? '', 10) || 0) * 1000,
  };
}

/** The pgpass entry for this connection (fields host:port:database:user:password, `*` matches all), if any. */
export function pgpassLookup(text: string, ep: PgEndpoint, database: string, user: string): string | undefined {
  const host = ep.host.startsWith('/') ? 'localhost' : ep.host;
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const fields: string[] = [];
    let cur = '';
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (c === '\\' && i + 1 < line.length) { cur += line[++i]; continue; }
      if (c === ':' && fields.length < 4) { fields.push(cur); cur = ''; continue; }
      cur += c;
    }
    fields.push(cur.replace(/\r$/, ''));
    if (fields.length < 5) continue;
    const [h, p, d, u, pw] = fields as [string, string, string, string, string];
    const ok = (pat: string, v: string) => pat === '*' || pat === v;
    if (ok(h, host) && ok(p, String(ep.port)) && ok(d, database) && ok(u, user)) return pw;
  }
  return undefined;
}

/** The SCRAM-SHA-256 exchange (RFC 5802/7677) without channel binding. */
class Scram {
  private readonly nonce = randomBytes(18).toString('base64');
  private readonly password: string;
  private clientFirstBare = '';
  private serverSignature: Buffer | undefined;

  constructor(password: string) { this.password = password.normalize('NFKC'); }

  first(): string {
    this.clientFirstBare = `n=*,r=${this.nonce}`;
    return `n,,${this.clientFirstBare}`;
  }

  final(serverFirst: string): string {
    const attrs = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]));
    const r = attrs.r ?? '';
    if (!r.startsWith(this.nonce)) throw new PostgresError('SCRAM: the server nonce does not extend ours');
    const salt = Buffer.from(attrs.s ?? '', 'base64');
    const iterations = Number.parseInt(attrs.i ?? '', 10);
    if (!salt.length || !(iterations > 0)) throw new PostgresError('SCRAM: malformed server-first-message');
    const salted = pbkdf2Sync(this.password, salt, iterations, 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=biws,r=${r}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = createHmac('sha256', storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    const serverKey = createHmac('sha256', salted).update('Server Key').digest();
    this.serverSignature = createHmac('sha256', serverKey).update(authMessage).digest();
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  verify(serverFinal: string): void {
    const v = /(?:^|,)v=([^,]*)/.exec(serverFinal)?.[1];
    const got = Buffer.from(v ?? '', 'base64');
    if (!this.serverSignature || got.length !== 32 || !timingSafeEqual(got, this.serverSignature)) {
      throw new PostgresError('SCRAM: the server signature does not match (is this the right server?)');
    }
  }
}

/**
 * One replication (or plain) connection. Create with ReplicationConnection.open(); read with next(), query() or
 * the higher-level helpers in base-backup.ts; close() when done.
 */
export class ReplicationConnection {
  readonly endpoint: PgEndpoint;
  /** ParameterStatus values (server_version, integer_datetimes ...). */
  readonly parameters = new Map<string, string>();
  private readonly socket: Socket;
  private readonly splitter = new MessageSplitter();
  private readonly queue: BackendMessage[] = [];
  private queuedBytes = 0;
  private waiter: ((m: BackendMessage | Error) => void) | undefined;
  private failure: Error | undefined;
  private paused = false;

  private constructor(socket: Socket, endpoint: PgEndpoint) {
    this.socket = socket;
    this.endpoint = endpoint;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new PostgresError(`connection to ${describe(endpoint)} failed: ${err.message}`, { cause: err })));
    socket.on('close', () => this.fail(new PostgresError(`server ${describe(endpoint)} closed the connection unexpectedly`)));
  }

  /** Bytes waiting in the queue above which the socket is paused. */
  static readonly HIGH_WATER = 8 << 20;

  /**
   * Connects to the first endpoint of `s` that accepts us, as `replication` ('database', 'true', or undefined for
   * a plain session). Throws PostgresError naming every endpoint tried and why.
   */
  static async open(s: ReplicationSettings, replication: 'database' | 'true' | undefined): Promise<ReplicationConnection> {
    const failures: string[] = [];
    for (const ep of s.endpoints) {
      try {
        const c = await ReplicationConnection.openOne(s, ep, replication);
        log.debug(`Connected to PostgreSQL at ${describe(ep)}${replication ? ` (replication=${replication})` : ''}`);
        return c;
      } catch (err) {
        const text = (err as Error).message;
        failures.push(`${describe(ep)}: ${text}`);
        if (s.endpoints.length > 1) log.warn(`Could not connect to ${describe(ep)}: ${text}`);
      }
    }
    throw new PostgresError(`Connect: postgres connection failed: failed to connect to \`user=${s.user} database=${s.database ?? ''}\`: ${failures.join('; ')}`);
  }

  private static async openOne(s: ReplicationSettings, ep: PgEndpoint, replication: 'database' | 'true' | undefined): Promise<ReplicationConnection> {
    let socket = await connectSocket(ep, s.connectTimeoutMs);
    if (!ep.host.startsWith('/') && s.sslMode !== 'disable' && s.sslMode !== 'allow') {
      socket = await negotiateTls(socket, ep, s);
    }
    const conn = new ReplicationConnection(socket, ep);
    try {
      const params: Record<string, string> = { user: s.user, application_name: s.applicationName, client_encoding: 'UTF8' };
      if (s.database) params.database = s.database;
      if (replication) params.replication = replication;
      conn.write(startupMessage(params));
      await conn.authenticate(s, replication ? 'replication' : (s.database ?? s.user));
      return conn;
    } catch (err) {
      conn.close();
      throw err;
    }
  }

  private password(s: ReplicationSettings, database: string): string {
    if (s.password !== undefined) return s.password;
    if (s.passFile && existsSync(s.passFile)) {
      try {
        const pw = pgpassLookup(readFileSync(s.passFile, 'utf8'), this.endpoint, database, s.user);
        if (pw !== undefined) return pw;
      } catch { /* unreadable pgpass: as libpq, go on without */ }
    }
    throw new PostgresError('the server asks for a password and none was given (PGPASSWORD or a pgpass file)');
  }

  /** Runs the authentication exchange up to ReadyForQuery. */
  private async authenticate(s: ReplicationSettings, pgpassDatabase: string): Promise<void> {
    let scram: Scram | undefined;
    for (;;) {
      const m = await this.next();
      if (m.type === 'R') {
        const kind = m.body.readInt32BE(0);
        if (kind === 0) continue; // AuthenticationOk
        if (kind === 3) { this.write(frontend('p', cstring(this.password(s, pgpassDatabase)))); continue; }
        if (kind === 5) {
          const salt = m.body.subarray(4, 8);
          const inner = createHash('md5').update(this.password(s, pgpassDatabase) + s.user).digest('hex');
          const outer = createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex');
          this.write(frontend('p', cstring(`md5${outer}`)));
          continue;
        }
        if (kind === 10) {
          const mechs = m.body.subarray(4).toString('utf8').split('\0').filter(Boolean);
          if (!mechs.includes('SCRAM-SHA-256')) throw new PostgresError(`no supported SASL mechanism among ${mechs.join(', ')}`);
          scram = new Scram(this.password(s, pgpassDatabase));
          const first = Buffer.from(scram.first());
          const len = Buffer.alloc(4);
          len.writeInt32BE(first.length);
          this.write(frontend('p', Buffer.concat([cstring('SCRAM-SHA-256'), len, first])));
          continue;
        }
        if (kind === 11 && scram) { this.write(frontend('p', Buffer.from(scram.final(m.body.toString('utf8', 4))))); continue; }
        if (kind === 12 && scram) { scram.verify(m.body.toString('utf8', 4)); continue; }
        throw new PostgresError(`unsupported authentication method (code ${kind})`);
      }
      if (m.type === 'E') throw new ServerError(parseNotice(m.body));
      if (m.type === 'S') { this.onParameter(m.body); continue; }
      if (m.type === 'K' || m.type === 'N') continue;
      if (m.type === 'Z') return;
      throw new PostgresError(`protocol: unexpected message '${m.type}' during authentication`);
    }
  }

  private onParameter(body: Buffer): void {
    const k = body.indexOf(0);
    this.parameters.set(body.toString('utf8', 0, k), body.toString('utf8', k + 1, body.indexOf(0, k + 1)));
  }

  private onData(chunk: Buffer): void {
    let msgs: BackendMessage[];
    try { msgs = this.splitter.push(chunk); } catch (err) { this.fail(new PostgresError((err as Error).message)); return; }
    for (const m of msgs) {
      if (this.waiter) { const w = this.waiter; this.waiter = undefined; w(m); continue; }
      this.queue.push(m);
      this.queuedBytes += m.body.length + 5;
    }
    if (this.queuedBytes > ReplicationConnection.HIGH_WATER && !this.paused) { this.paused = true; this.socket.pause(); }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    if (this.waiter) { const w = this.waiter; this.waiter = undefined; w(this.failure); }
  }

  /** Writes raw frontend bytes. */
  write(b: Buffer): void { this.socket.write(b); }

  /**
   * The next backend message (ParameterStatus is absorbed, NoticeResponse logged). Rejects with PostgresError when
   * the connection fails or closes.
   */
  async next(): Promise<BackendMessage> {
    for (;;) {
      const m = await this.nextRaw();
      if (m.type === 'S') { this.onParameter(m.body); continue; }
      if (m.type === 'N') { const n = parseNotice(m.body); log.info(`${n.severity}: ${n.message}`); continue; }
      return m;
    }
  }

  private nextRaw(): Promise<BackendMessage> {
    const m = this.queue.shift();
    if (m) {
      this.queuedBytes -= m.body.length + 5;
      if (this.paused && this.queuedBytes < ReplicationConnection.HIGH_WATER / 2) { this.paused = false; this.socket.resume(); }
      return Promise.resolve(m);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = (x) => (x instanceof Error ? reject(x) : resolve(x));
    });
  }

  /**
   * Runs a simple query and returns its result sets. A server error is thrown after ReadyForQuery, so the
   * connection stays usable.
   */
  async query(sql: string): Promise<ResultSet[]> {
    this.write(queryMessage(sql));
    return this.readResults();
  }

  /** Reads result sets up to ReadyForQuery (see query). */
  async readResults(stopAtCopy = false): Promise<ResultSet[]> {
    const sets: ResultSet[] = [];
    let cur: ResultSet | undefined;
    let error: ServerError | undefined;
    for (;;) {
      const m = await this.next();
      switch (m.type) {
        case 'T': cur = { columns: parseRowDescription(m.body), rows: [] }; sets.push(cur); break;
        case 'D': (cur ??= (sets.push({ columns: [], rows: [] }), sets[sets.length - 1]!)).rows.push(parseDataRow(m.body)); break;
        case 'C': if (cur) cur.command = m.body.toString('utf8', 0, m.body.length - 1); cur = undefined; break;
        case 'I': break;
        case 'E': error = new ServerError(parseNotice(m.body)); break;
        case 'Z': if (error) throw error; return sets;
        case 'H': case 'W':
          if (stopAtCopy) return sets;
          throw new PostgresError(`protocol: unexpected COPY in the answer to a query`);
        default: throw new PostgresError(`protocol: unexpected message '${m.type}'`);
      }
    }
  }

  /** Sends Terminate and closes the socket. */
  close(): void {
    if (!this.socket.destroyed) {
      try { this.socket.end(frontend('X')); } catch { /* already gone */ }
      this.socket.destroySoon();
    }
    this.failure ??= new PostgresError('connection closed');
  }

  /** Closes at once (the server sees the connection drop). */
  destroy(): void {
    this.socket.destroy();
    this.failure ??= new PostgresError('connection closed');
  }
}

function describe(ep: PgEndpoint): string {
  return ep.host.startsWith('/') ? `${ep.host}/.s.PGSQL.${ep.port}` : `${ep.host}:${ep.port}`;
}

function connectSocket(ep: PgEndpoint, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = ep.host.startsWith('/')
      ? netConnect({ path: `${ep.host}/.s.PGSQL.${ep.port}` })
      : netConnect({ host: ep.host, port: ep.port });
    sock.setNoDelay(true);
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs > 0) timer = setTimeout(() => { sock.destroy(); reject(new Error(`timeout after ${timeoutMs / 1000} s`)); }, timeoutMs);
    sock.once('connect', () => { clearTimeout(timer); sock.removeAllListeners('error'); resolve(sock); });
    sock.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

/** SSLRequest and, when the server agrees, a TLS session over the socket; PGSSLMODE decides what is required. */
function negotiateTls(sock: Socket, ep: PgEndpoint, s: ReplicationSettings): Promise<Socket> {
  const required = s.sslMode === 'require' || s.sslMode === 'verify-ca' || s.sslMode === 'verify-full';
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.once('data', (b: Buffer) => {
      sock.removeListener('error', reject);
      if (b[0] === 0x4e /* N */) {
        if (required) { sock.destroy(); reject(new Error(`server does not support SSL, but PGSSLMODE=${s.sslMode} requires it`)); return; }
        resolve(sock);
        return;
      }
      if (b[0] !== 0x53 /* S */) { sock.destroy(); reject(new Error('protocol: bad answer to SSLRequest')); return; }
      const read = (p?: string) => (p && existsSync(p) ? readFileSync(p) : undefined);
      const verify = s.sslMode === 'verify-ca' || s.sslMode === 'verify-full';
      const t = tlsConnect({
        socket: sock, servername: /^[\d.:]+$/.test(ep.host) ? undefined : ep.host,
        rejectUnauthorized: verify, ca: verify ? read(s.sslRootCert) : undefined, cert: read(s.sslCert), key: read(s.sslKey),
        checkServerIdentity: s.sslMode === 'verify-full' ? undefined : () => undefined,
      });
      t.once('secureConnect', () => { t.removeAllListeners('error'); resolve(t); });
      t.once('error', reject);
    });
    sock.write(SSL_REQUEST);
  });
}

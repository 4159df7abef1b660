// WALG_MYSQL_DATASOURCE_NAME: a go-sql-driver/mysql DSN, `[user[:password]@][net[(addr)]]/dbname[?param=value&...]`,
// parsed with that driver's defaults (tcp, 127.0.0.1:3306, :3306 added to a bare host) and turned into mysql2
// connection options. WALG_MYSQL_SSL_CA adds a verified TLS CA; it conflicts with a `tls=` DSN parameter.
// Error messages never echo the DSN: it usually carries a password.

import { ConfigError } from '../core/errors.ts';
import { parseDurationMs } from '../config/load.ts';

/** The fields of a parsed DSN. */
export interface MysqlDatasource {
  user: string;
  password: string;
  /** 'tcp' | 'tcp4' | 'tcp6' | 'unix'. */
  network: string;
  /** host:port for tcp, the socket path for unix. */
  addr: string;
  dbName: string;
  params: URLSearchParams;
}

/** Splits "host:port" / "[v6]:port"; undefined when there is no port. */
export function splitHostPort(addr: string): { host: string; port: string } | undefined {
  const m = /^\[([^\]]*)\]:(\d*)$/.exec(addr) ?? /^([^:]*):(\d*)$/.exec(addr);
  return m ? { host: m[1]!, port: m[2]! } : undefined;
}

/** Joins host and port, bracketing IPv6 literals as Go's net.JoinHostPort does. */
export function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Parses a go-sql-driver DSN. compat: the last '/' separates the database, the last '@' the credentials, the
 * first ':' user from password; net(addr) is optional; an empty addr is 127.0.0.1:3306 (tcp) or /tmp/mysql.sock
 * (unix); a tcp addr without a port gets :3306. Throws ConfigError (without the DSN in the message).
 */
export function parseDatasource(dsn: string): MysqlDatasource {
  const slash = dsn.lastIndexOf('/');
  if (slash < 0) throw new ConfigError("invalid mysql datasource: missing '/' before database name");
  let endpoint = dsn.slice(0, slash);
  const dbAndParams = dsn.slice(slash + 1);
  let user = '';
  let password = '';
  const at = endpoint.lastIndexOf('@');
  if (at >= 0) {
    const credentials = endpoint.slice(0, at);
    const colon = credentials.indexOf(':');
    if (colon >= 0) { user = credentials.slice(0, colon); password = credentials.slice(colon + 1); } else user = credentials;
    endpoint = endpoint.slice(at + 1);
  }
  let network = '';
  let addr = endpoint;
  const open = endpoint.indexOf('(');
  if (open >= 0) {
    if (!endpoint.endsWith(')')) throw new ConfigError("invalid mysql datasource: network address not terminated (missing ')')");
    network = endpoint.slice(0, open);
    addr = endpoint.slice(open + 1, -1);
  }
  const q = dbAndParams.indexOf('?');
  const rawDb = q >= 0 ? dbAndParams.slice(0, q) : dbAndParams;
  const params = new URLSearchParams(q >= 0 ? dbAndParams.slice(q + 1) : '');
  let dbName: string;
  try { dbName = decodeURIComponent(rawDb); } catch { throw new ConfigError('invalid mysql datasource: bad escape in the database name'); }
  if (network === '') network = 'tcp';
  if (addr === '') {
    if (network === 'tcp') addr = '127.0.0.1:3306';
    else if (network === 'unix') addr = '/tmp/mysql.sock';
    else throw new ConfigError(`default addr for mysql network '${network}' unknown`);
  } else if (network.startsWith('tcp') && !splitHostPort(addr)) {
    addr = joinHostPort(addr.replace(/^\[|\]$/g, ''), '3306');
  }
  if (!['tcp', 'tcp4', 'tcp6', 'unix'].includes(network)) throw new ConfigError(`unsupported mysql network '${network}'`);
  return { user, password, network, addr, dbName, params };
}

/** compat: go-sql-driver's boolean spellings. */
function readBool(v: string): boolean | undefined {
  if (['1', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'false', 'FALSE', 'False'].includes(v)) return false;
  return undefined;
}

/** TLS mode of the DSN's `tls` parameter, canonicalised ('' = off). */
export function tlsMode(params: URLSearchParams): 'false' | 'true' | 'skip-verify' | 'preferred' {
  const raw = params.get('tls') ?? '';
  const b = readBool(raw);
  const mode = b === undefined ? raw.toLowerCase() : String(b);
  if (mode === '' || mode === 'false') return 'false';
  if (mode === 'true' || mode === 'skip-verify' || mode === 'preferred') return mode;
  throw new ConfigError(`unknown mysql tls config name '${mode}'`);
}

/** The subset of mysql2's ConnectionOptions this tool sets. */
export interface MysqlConnectOptions {
  host?: string;
  port?: number;
  socketPath?: string;
  user: string;
  password: string;
  database?: string;
  connectTimeout?: number;
  ssl?: { ca?: string; rejectUnauthorized?: boolean; servername?: string };
  /** 'preferred': retry without TLS when the server does not support it. */
  tlsFallback: boolean;
}

/**
 * mysql2 options for a parsed DSN. `caPem` is the content of WALG_MYSQL_SSL_CA (when set); combining it with a
 * `tls=` parameter is a ConfigError, as in WAL-G. `timeout` (a Go duration) becomes the connect timeout.
 */
export function connectOptions(d: MysqlDatasource, caPem?: string): MysqlConnectOptions {
  if (caPem !== undefined && d.params.has('tls')) {
    throw new ConfigError('mysql datasource contains tls option, it can\'t be used with WALG_MYSQL_SSL_CA option');
  }
  const o: MysqlConnectOptions = { user: d.user, password: d.password, tlsFallback: false };
  if (d.dbName) o.database = d.dbName;
  let host = '';
  if (d.network === 'unix') o.socketPath = d.addr;
  else {
    const hp = splitHostPort(d.addr)!;
    host = hp.host;
    o.host = hp.host;
    o.port = Number(hp.port || '3306');
  }
  const timeout = d.params.get('timeout');
  if (timeout) o.connectTimeout = parseDurationMs('timeout', timeout);
  if (caPem !== undefined) {
    o.ssl = { ca: caPem, rejectUnauthorized: true, servername: host || undefined };
  } else {
    switch (tlsMode(d.params)) {
      case 'true': o.ssl = { rejectUnauthorized: true, servername: host || undefined }; break;
      case 'skip-verify': o.ssl = { rejectUnauthorized: false }; break;
      case 'preferred': o.ssl = { rejectUnauthorized: false }; o.tlsFallback = true; break;
      default: break;
    }
  }
  return o;
}

/** The DSN's tcp address with the host replaced (compat: WAL-G retries an unreachable host on localhost). */
export function withHost(d: MysqlDatasource, host: string): MysqlDatasource | undefined {
  if (!d.network.startsWith('tcp')) return undefined;
  const hp = splitHostPort(d.addr);
  if (!hp || hp.host === host) return undefined;
  return { ...d, addr: joinHostPort(host, hp.port) };
}

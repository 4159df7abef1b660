// Swift authentication for the Swift driver: auth v1, Keystone v2 and Keystone v3 on Node's built-in fetch, with
// one shared session per storage that is renewed shortly before its token expires or when the server rejects it.
// Also the small helpers the driver shares with it (URL redaction, one-line messages, network error mapping).

import { CancelledError, ConfigError, StorageError } from '../../core/errors.ts';

/** The authentication part of SwiftOptions (OS_AUTH_URL, OS_USERNAME, ...; see swift.ts). */
export interface SwiftAuthOptions {
  /** OS_AUTH_URL: '.../auth/v1.0' (v1), '.../v2.0' (Keystone v2) or '.../v3' (Keystone v3). */
  authUrl: string;
  /** OS_USERNAME (v1: 'account:user'). */
  username: string;
  /** OS_PASSWORD (v1: the key). */
  password: string;
  /** OS_TENANT_NAME (v2) — also used as the v3 project name when projectName is not set. */
  tenantName?: string;
  /** OS_PROJECT_NAME (v3). */
  projectName?: string;
  /** OS_REGION_NAME: picks the catalog endpoint of this region. */
  regionName?: string;
  /** v3 domains, default 'Default'. */
  userDomainName?: string;
  projectDomainName?: string;
  /** Forces the auth version instead of guessing it from the URL. */
  authVersion?: 1 | 2 | 3;
  /** Catalog interface to use (default 'public'). */
  endpointType?: 'public' | 'internal' | 'admin';
}

/** A logged-in session: the object-store URL of the account and its token (expiry when the server says it). */
export interface Session { storageUrl: string; token: string; expiresAt?: number }

// Re-authenticate this long before the token expires, so a long upload does not start with a dying token.
const TOKEN_MARGIN_MS = 120_000;

/** Removes user:password@ from a URL before it appears in a message. */
export function safeUrl(url: string): string {
  try { const u = new URL(url); u.username = ''; u.password = ''; return u.toString(); } catch { return '<invalid url>'; }
}

/** Percent-encodes an object path segment by segment, keeping the '/' separators. */
export function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

/** One-line, tag-free form of a server message, cut at `max` characters. */
export function oneLine(s: string, max = 200): string {
  return s.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, max);
}

/** compat: like the ncw/swift library WAL-G uses, the version comes from the auth URL unless forced. */
export function authVersionOf(opts: SwiftAuthOptions): 1 | 2 | 3 {
  if (opts.authVersion) return opts.authVersion;
  if (opts.authUrl.includes('v3')) return 3;
  if (opts.authUrl.includes('v2')) return 2;
  if (opts.authUrl.includes('v1')) return 1;
  throw new ConfigError(`cannot tell the Swift auth version from OS_AUTH_URL '${safeUrl(opts.authUrl)}' (expected v1.0, v2.0 or v3 in it)`);
}

/** Network-level failure of fetch: undici throws TypeError('fetch failed') with the socket error as cause. */
export function networkError(e: unknown, what: string): Error {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'AbortError') return new CancelledError(`${what} cancelled`);
  const detail = err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e);
  return new StorageError(`${what} failed: ${oneLine(String(detail))}`, { transient: true });
}

/**
 * The session of one Swift storage. session() returns the current one, logging in when there is none or its token
 * is about to expire; parallel callers share one login. invalidate() drops a session the server rejected (401).
 */
export class SwiftAuth {
  private readonly opts: SwiftAuthOptions;
  private readonly version: 1 | 2 | 3;
  private current: Promise<Session> | undefined;
  private currentValue: Session | undefined;

  constructor(opts: SwiftAuthOptions, version: 1 | 2 | 3) {
    this.opts = opts;
    this.version = version;
  }

  /** The current session, authenticating when there is none or the token is about to expire. */
  session(): Promise<Session> {
    const cur = this.current;
    if (cur) {
      return cur.then((s) => (s.expiresAt !== undefined && s.expiresAt - Date.now() < TOKEN_MARGIN_MS ? this.reauth(cur) : s));
    }
    return this.reauth(undefined);
  }

  /** Replaces the session unless another caller already did (so N parallel 401s cause one login). */
  private reauth(stale: Promise<Session> | undefined): Promise<Session> {
    if (this.current !== stale) return this.current!;
    const p = this.authenticate();
    this.current = p;
    p.then((s) => { if (this.current === p) this.currentValue = s; }, () => { if (this.current === p) this.current = undefined; });
    return p;
  }

  /** Drops a session the server rejected, unless a newer one already replaced it. */
  invalidate(s: Session): void {
    if (this.currentValue === s) { this.current = undefined; this.currentValue = undefined; }
  }

  private async authenticate(): Promise<Session> {
    const what = `Swift authentication (v${this.version}) at ${safeUrl(this.opts.authUrl)}`;
    let res: Response;
    try {
      res = await this.authRequest();
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      throw networkError(e, what);
    }
    const text = await res.text();
    if (!res.ok) {
      const transient = res.status >= 500 || res.status === 429;
      const hint = res.status === 401 || res.status === 403 ? ' (check OS_USERNAME/OS_PASSWORD and tenant/project)' : '';
      throw new StorageError(`${what} failed: HTTP ${res.status} ${res.statusText}${hint}`, { transient });
    }
    if (this.version === 1) {
      const storageUrl = res.headers.get('x-storage-url');
      const token = res.headers.get('x-auth-token');
      if (!storageUrl || !token) throw new StorageError(`${what} failed: no X-Storage-Url / X-Auth-Token in the response`);
      const ttl = Number(res.headers.get('x-auth-token-expires'));
      return { storageUrl, token, expiresAt: Number.isFinite(ttl) && ttl > 0 ? Date.now() + ttl * 1000 : undefined };
    }
    let doc: Record<string, any>;
    try { doc = JSON.parse(text); } catch { throw new StorageError(`${what} failed: the response is not JSON`); }
    if (this.version === 2) {
      const token = doc.access?.token?.id as string | undefined;
      const storageUrl = this.pickEndpoint(doc.access?.serviceCatalog, (e) => e[`${this.opts.endpointType ?? 'public'}URL`]);
      if (!token) throw new StorageError(`${what} failed: no token in the response`);
      return { token, storageUrl, expiresAt: Date.parse(doc.access?.token?.expires ?? '') || undefined };
    }
    const token = res.headers.get('x-subject-token');
    if (!token) throw new StorageError(`${what} failed: no X-Subject-Token in the response`);
    const iface = this.opts.endpointType ?? 'public';
    const storageUrl = this.pickEndpoint(doc.token?.catalog, (e) => (e.interface === iface ? e.url : undefined));
    return { token, storageUrl, expiresAt: Date.parse(doc.token?.expires_at ?? '') || undefined };
  }

  private authRequest(): Promise<Response> {
    const base = this.opts.authUrl.replace(/\/+$/, '');
    if (this.version === 1) {
      return fetch(base, { method: 'GET', headers: { 'X-Auth-User': this.opts.username, 'X-Auth-Key': this.opts.password } });
    }
    if (this.version === 2) {
      const body = {
        auth: {
          passwordCredentials: { username: this.opts.username, password: this.opts.password },
          ...(this.opts.tenantName ? { tenantName: this.opts.tenantName } : {}),
        },
      };
      const url = base.endsWith('/tokens') ? base : `${base}/tokens`;
      return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body) });
    }
    const project = this.opts.projectName ?? this.opts.tenantName;
    if (!project) throw new ConfigError('Keystone v3 needs a project: set OS_PROJECT_NAME or OS_TENANT_NAME');
    const body = {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: this.opts.username, password: this.opts.password, domain: { name: this.opts.userDomainName || 'Default' } } },
        },
        scope: { project: { name: project, domain: { name: this.opts.projectDomainName || 'Default' } } },
      },
    };
    const url = base.endsWith('/auth/tokens') ? base : `${base}/auth/tokens`;
    return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body) });
  }

  /** Finds the object-store endpoint in a Keystone catalog, honouring OS_REGION_NAME. */
  private pickEndpoint(catalog: unknown, urlOf: (e: Record<string, any>) => string | undefined): string {
    const services = Array.isArray(catalog) ? (catalog as Record<string, any>[]) : [];
    const store = services.find((s) => s.type === 'object-store');
    const region = this.opts.regionName;
    for (const e of (store?.endpoints ?? []) as Record<string, any>[]) {
      if (region && e.region !== region && e.region_id !== region) continue;
      const url = urlOf(e);
      if (url) return url;
    }
    throw new StorageError(`Swift authentication succeeded but the catalog has no ${this.opts.endpointType ?? 'public'} object-store endpoint${region ? ` in region '${region}'` : ''}`);
  }
}

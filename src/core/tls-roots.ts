// The trust roots of TLS clients (every HTTPS storage: S3, GCS, Azure, Swift), extended like Go's crypto/x509 does it
// on Linux for WAL-G: the certificates of the file SSL_CERT_FILE names and of the files in the SSL_CERT_DIR
// directories (':'-separated) are trusted too. Read once per process, only when one of them is set, and only when a
// network storage is opened (src/storage/registry.ts): parsing a system bundle (SSL_CERT_DIR=/etc/ssl/certs is common)
// takes tens of milliseconds, which a wal-push to a file storage must not pay. node:tls and node:crypto are loaded
// only then: this module is part of dist/wal-g's startup snapshot, which cannot hold node:tls.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The parseable PEM certificates in `text` (compat: Go's AppendCertsFromPEM skips blocks it cannot parse). */
export function pemCertificates(text: string): string[] {
  const { X509Certificate } = process.getBuiltinModule('node:crypto');
  const out: string[] = [];
  for (const m of text.match(PEM_BLOCK) ?? []) {
    try { new X509Certificate(m); out.push(m); } catch { /* not a certificate: skipped */ }
  }
  return out;
}

function readText(path: string): string | undefined {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
}

/**
 * The extra roots `env` asks for: SSL_CERT_FILE's certificates, then those of every file in each SSL_CERT_DIR
 * directory. Unreadable files and directories are skipped, as Go does while it finds other roots.
 */
export function extraRootsFromEnv(env: NodeJS.ProcessEnv): string[] {
  const roots: string[] = [];
  const file = env.SSL_CERT_FILE;
  if (file) roots.push(...pemCertificates(readText(file) ?? ''));
  for (const dir of (env.SSL_CERT_DIR ?? '').split(':').filter(Boolean)) {
    let names: string[];
    try { names = readdirSync(dir).sort(); } catch { continue; }
    for (const n of names) roots.push(...pemCertificates(readText(join(dir, n)) ?? ''));
  }
  return roots;
}

let applied = false;

/**
 * compat: WAL-G, a Go program, trusts the certificates SSL_CERT_FILE and SSL_CERT_DIR name (a private CA of an S3
 * or Azure endpoint, say). Adds them to the default roots of every TLS client of this process; the bundled roots
 * stay trusted. Does nothing when neither is set, and nothing after the first call that found one set.
 */
export function applyCertEnv(env: NodeJS.ProcessEnv = process.env): void {
  if (applied || (!env.SSL_CERT_FILE && !env.SSL_CERT_DIR)) return;
  applied = true;
  const extra = extraRootsFromEnv(env);
  if (extra.length === 0) return;
  const tls = process.getBuiltinModule('node:tls');
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), ...extra]);
}

// SSL_CERT_FILE / SSL_CERT_DIR add trusted TLS roots, as they do for WAL-G's Go clients (compat, found by the interop
// suite, issue 14 case 7: WAL-G reaches Azurite only over TLS, trusting a certificate named by SSL_CERT_FILE).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect, getCACertificates } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyCertEnv, extraRootsFromEnv, pemCertificates } from '../../src/core/tls-roots.ts';

let dir: string;
let cert: string;
let server: Server;

/** A self-signed certificate for 127.0.0.1, in `dir`/name.pem with its key in name.key. */
function selfSigned(name: string): string {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`), '-subj', `/CN=${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:TRUE'], { stdio: 'ignore' });
  return readFileSync(join(dir, `${name}.pem`), 'utf8');
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'walg-tls-roots-'));
  cert = selfSigned('one');
  server = createServer({ cert, key: readFileSync(join(dir, 'one.key')) }, (_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
after(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** Whether a TLS client with the default roots trusts the server. */
function handshake(): Promise<'trusted' | string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port }, () => { s.end(); resolve('trusted'); });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

test('pemCertificates keeps the parseable certificates of a bundle and skips the rest', () => {
  const junk = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n';
  assert.deepEqual(pemCertificates(`# a bundle\n${cert}\n${junk}${cert}`), [cert.trim(), cert.trim()]);
  assert.deepEqual(pemCertificates('no certificates here'), []);
});

test('extraRootsFromEnv reads SSL_CERT_FILE and every file of each SSL_CERT_DIR directory; unreadable ones are skipped', () => {
  const two = selfSigned('two');
  const certs = join(dir, 'certs');
  mkdirSync(certs);
  writeFileSync(join(certs, 'a.pem'), two);
  writeFileSync(join(certs, 'README'), 'not a certificate');
  const roots = extraRootsFromEnv({ SSL_CERT_FILE: join(dir, 'one.pem'), SSL_CERT_DIR: `${join(dir, 'missing')}:${certs}` });
  assert.deepEqual(roots, [cert.trim(), two.trim()]);
  assert.deepEqual(extraRootsFromEnv({ SSL_CERT_FILE: join(dir, 'missing.pem') }), []);
});

test('applyCertEnv: unset changes nothing; SSL_CERT_FILE makes its certificate trusted, the bundled roots stay', async () => {
  const roots = (): Set<string> => new Set(getCACertificates('default').map((p) => new X509Certificate(p).fingerprint256));
  const before = roots();
  applyCertEnv({});
  assert.deepEqual(roots(), before);
  assert.notEqual(await handshake(), 'trusted');
  applyCertEnv({ SSL_CERT_FILE: join(dir, 'one.pem') });
  assert.deepEqual(roots(), new Set([...before, new X509Certificate(cert).fingerprint256]));
  assert.equal(await handshake(), 'trusted');
});

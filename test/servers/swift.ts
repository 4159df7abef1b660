// Starts a private OpenStack Swift All-In-One (tempauth + s3api) on free loopback ports for integration tests.
// Everything lives in a temp dir (rings, swift.conf via swift_dir, data, logs); stop() kills it and removes it.
// Needs the Debian packages installed by scripts/install-swift.sh.

import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SwiftServer {
  /** v1 auth URL: http://127.0.0.1:PORT/auth/v1.0 */
  authUrl: string;
  /** S3 endpoint of the same proxy (path-style, region us-east-1). */
  s3Endpoint: string;
  /** v1 user 'test:tester' (also the S3 access key). */
  user: string;
  /** v1 key (also the S3 secret key). */
  key: string;
  /** Kills the daemons and removes the temp dir. */
  stop(): Promise<void>;
}

export const SWIFT_DEBIAN_PACKAGES = ['swift', 'swift-proxy', 'swift-object', 'swift-container', 'swift-account', 'python3-swift', 'memcached'];

function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/usr/sbin'])) {
    try { accessSync(join(dir, cmd), constants.X_OK); return true; } catch { /* next */ }
  }
  return false;
}

/** Distinct free loopback ports: all listeners are held open together so no port is handed out twice. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<import('node:net').Server>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const RING_SCRIPT = `
import sys
from swift.common.ring import RingBuilder
for name, port in zip(['object', 'container', 'account'], sys.argv[2:5]):
    b = RingBuilder(6, 1, 1)
    b.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': int(port), 'device': 'd1', 'weight': 1})
    b.rebalance()
    b.get_ring().save('%s/%s.ring.gz' % (sys.argv[1], name))
`;

// Execs the daemon with PR_SET_PDEATHSIG, so it gets SIGTERM when the test process dies without running
// stop() (killed by a timeout, crashed): no stray Swift daemons survive a test run.
const EXEC_WITH_PDEATHSIG = `
import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)
os.execvp(sys.argv[1], sys.argv[1:])
`;

/** Removes temp dirs of earlier runs whose test process died before stop() (their owner pid is gone). */
async function sweepStale(base: string): Promise<void> {
  let names: string[];
  try { names = await readdir(base); } catch { return; }
  for (const n of names.filter((x) => x.startsWith('walg-swift-') && !x.startsWith('walg-swift-probe-'))) {
    const d = join(base, n);
    let owner: number;
    try { owner = Number(readFileSync(join(d, 'owner.pid'), 'utf8')); } catch { continue; }
    try { process.kill(owner, 0); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') await rm(d, { recursive: true, force: true });
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * /dev/shm when usable: the object server fsyncs every object, which on a disk makes the 1500-key tests
 * about twice as slow. Swift keeps metadata in user xattrs, which tmpfs supports only on newer kernels,
 * so that is checked with Swift's own Python before choosing it.
 */
async function fastTmp(): Promise<string> {
  try {
    const probe = await mkdtemp('/dev/shm/walg-swift-probe-');
    try {
      await run('/usr/bin/python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], "user.walg", b"1")', probe]);
      return '/dev/shm';
    } finally {
      await rm(probe, { recursive: true, force: true });
    }
  } catch {
    return tmpdir();
  }
}

/**
 * Starts memcached and the account, container, object and proxy servers on free ports and resolves once the
 * proxy answers /healthcheck and a container can be created. Throws a clear error naming the Debian
 * packages when Swift is not installed.
 */
export async function startSwift(): Promise<SwiftServer> {
  for (const cmd of ['swift-proxy-server', 'swift-object-server', 'swift-container-server', 'swift-account-server', 'memcached']) {
    if (!onPath(cmd)) {
      throw new Error(`'${cmd}' not found: install OpenStack Swift with scripts/install-swift.sh (Debian packages: ${SWIFT_DEBIAN_PACKAGES.join(' ')})`);
    }
  }
  const base = await fastTmp();
  await sweepStale(base);
  const dir = await mkdtemp(join(base, 'walg-swift-'));
  await writeFile(join(dir, 'owner.pid'), String(process.pid));
  const etc = join(dir, 'etc');
  const logs = join(dir, 'log');
  await Promise.all([mkdir(etc), mkdir(join(dir, 'srv', 'd1'), { recursive: true }), mkdir(logs)]);
  const [proxyPort, objectPort, containerPort, accountPort, memcachedPort] = await freePorts(5) as [number, number, number, number, number];
  const isRoot = process.getuid?.() === 0;
  // The daemons switch to `user`; as root they refuse to run unless told to stay root.
  const user = isRoot ? 'root' : userInfo().username;

  // swift_dir makes the daemons read this swift.conf instead of /etc/swift/swift.conf.
  await writeFile(join(etc, 'swift.conf'), [
    '[swift-hash]', 'swift_hash_path_suffix = walg-test', 'swift_hash_path_prefix = walg-test',
    '[storage-policy:0]', 'name = Policy-0', 'default = yes', '',
  ].join('\n'));
  const common = (port: number) => [
    '[DEFAULT]', `devices = ${join(dir, 'srv')}`, 'mount_check = false', 'bind_ip = 127.0.0.1', `bind_port = ${port}`,
    'workers = 0', `user = ${user}`, `swift_dir = ${etc}`, `log_address = ${join(logs, 'none')}`, 'log_level = WARNING',
  ];
  const backends: [string, number][] = [['object', objectPort], ['container', containerPort], ['account', accountPort]];
  await Promise.all(backends.map(([name, port]) => writeFile(join(etc, `${name}-server.conf`), [
    ...common(port), '[pipeline:main]', `pipeline = ${name}-server`, `[app:${name}-server]`, `use = egg:swift#${name}`, '',
  ].join('\n'))));
  // One device, one replica, 2^6 partitions per ring. Swift's RingBuilder in one Python process takes about
  // 1 s where nine swift-ring-builder runs take several.
  await run('/usr/bin/python3', ['-c', RING_SCRIPT, etc, ...backends.map(([, port]) => String(port))]);
  await writeFile(join(etc, 'proxy-server.conf'), [
    ...common(proxyPort),
    '[pipeline:main]',
    'pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server',
    '[app:proxy-server]', 'use = egg:swift#proxy', 'account_autocreate = true', 'allow_account_management = true',
    '[filter:tempauth]', 'use = egg:swift#tempauth', 'user_admin_admin = admin .admin .reseller_admin', 'user_test_tester = testing .admin',
    '[filter:s3api]', 'use = egg:swift#s3api', 'location = us-east-1',
    '[filter:cache]', 'use = egg:swift#memcache', `memcache_servers = 127.0.0.1:${memcachedPort}`,
    ...['catch_errors', 'gatekeeper', 'healthcheck', 'proxy_logging', 'listing_formats', 'bulk', 'copy', 'slo', 'dlo']
      .flatMap((f) => [`[filter:${f.replace('_logging', '-logging')}]`, `use = egg:swift#${f}`]),
    '',
  ].join('\n'));

  const procs: ChildProcess[] = [];
  const early: string[] = [];
  const start = (name: string, cmd: string, args: string[]) => {
    const out = createWriteStream(join(logs, `${name}.log`));
    const p = spawn('/usr/bin/python3', ['-c', EXEC_WITH_PDEATHSIG, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout!.pipe(out);
    p.stderr!.pipe(out);
    p.on('exit', (code, sig) => { if (!stopping) early.push(`${name} exited (${code ?? sig})`); });
    procs.push(p);
  };
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await Promise.all(procs.map((p) => new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) { resolve(); return; }
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      p.once('exit', () => { clearTimeout(t); resolve(); });
      p.kill('SIGTERM');
    })));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    start('memcached', 'memcached', ['-l', '127.0.0.1', '-p', String(memcachedPort), '-U', '0', '-m', '64', ...(isRoot ? ['-u', 'root'] : [])]);
    for (const n of ['account', 'container', 'object', 'proxy']) start(n, `swift-${n}-server`, [join(etc, `${n}-server.conf`)]);
    const base = `http://127.0.0.1:${proxyPort}`;
    const deadline = Date.now() + 120_000; // a loaded 2-core CI runner has needed more than 60 s
    // Ready = the proxy answers and a whole request path (auth, account, container servers) works.
    for (;;) {
      if (early.length > 0) throw new Error(`Swift failed to start: ${early.join(', ')}`);
      if (Date.now() > deadline) throw new Error('Swift did not become ready within 120 s');
      try {
        const h = await fetch(`${base}/healthcheck`);
        await h.body?.cancel();
        if (h.ok) {
          const a = await fetch(`${base}/auth/v1.0`, { headers: { 'X-Auth-User': 'test:tester', 'X-Auth-Key': 'testing' } });
          await a.body?.cancel();
          const url = a.headers.get('x-storage-url');
          const token = a.headers.get('x-auth-token');
          if (a.ok && url && token) {
            const c = await fetch(`${url}/walg-ready-probe`, { method: 'PUT', headers: { 'X-Auth-Token': token } });
            await c.body?.cancel();
            if (c.status === 201 || c.status === 202) {
              const d = await fetch(`${url}/walg-ready-probe`, { method: 'DELETE', headers: { 'X-Auth-Token': token } });
              await d.body?.cancel();
              break;
            }
          }
        }
      } catch { /* not listening yet */ }
      await sleep(100);
    }
    return { authUrl: `${base}/auth/v1.0`, s3Endpoint: base, user: 'test:tester', key: 'testing', stop };
  } catch (e) {
    const tail = ['proxy', 'account', 'container', 'object', 'memcached'].map((n) => {
      try { return `${n}: ${readFileSync(join(logs, `${n}.log`), 'utf8').trim().split('\n').slice(-3).join(' | ')}`; } catch { return ''; }
    }).filter((l) => l.length > 6).join('\n');
    await stop();
    throw new Error(`${(e as Error).message}${tail ? `\n${tail}` : ''}`);
  }
}

/** Test helper: v1 login against a started server; returns the storage URL and token. */
export async function swiftLogin(srv: SwiftServer): Promise<{ url: string; token: string }> {
  const a = await fetch(srv.authUrl, { headers: { 'X-Auth-User': srv.user, 'X-Auth-Key': srv.key } });
  await a.body?.cancel();
  const url = a.headers.get('x-storage-url');
  const token = a.headers.get('x-auth-token');
  if (!a.ok || !url || !token) throw new Error(`Swift login failed: HTTP ${a.status}`);
  return { url, token };
}

/** Test helper: creates a container (which is also an S3 bucket through s3api). */
export async function createContainer(srv: SwiftServer, name: string): Promise<void> {
  const { url, token } = await swiftLogin(srv);
  const r = await fetch(`${url}/${encodeURIComponent(name)}`, { method: 'PUT', headers: { 'X-Auth-Token': token } });
  await r.body?.cancel();
  if (r.status !== 201 && r.status !== 202) throw new Error(`creating container ${name} failed: HTTP ${r.status}`);
}

// Interop case 7 (issue 14): the storages other than file, both directions. For S3 (OpenStack Swift's s3api), Azure
// (Azurite) and SSH (OpenSSH sftp), one tool writes and the other reads: a 16 MiB WAL segment (wal-push, wal-fetch
// byte-identical, lz4 + libsodium), an object (st put; st get, st ls and st stat the same from both tools), and a
// full backup of a small PostgreSQL cluster (backup-list the same from both tools, backup-fetch and recovery through
// the reader's own wal-fetch give the same pg_dumpall). One cluster per storage kind, archived by the writer.
//
// WAL-G reaches Azure only at https://<account>.blob.<AZURE_ENDPOINT_SUFFIX>/<container>, so both tools get an
// endpoint suffix nobody resolves, HTTPS_PROXY naming a CONNECT proxy started here that terminates TLS with a
// certificate made here and relays to Azurite (which takes the account from such a host name), and SSL_CERT_FILE
// naming that certificate. Both tools run with the same settings file and the same environment.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createSecureContext, TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { initCluster, pgIdentity, userTempDir } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { startSwift, createContainer } from '../servers/swift.ts';
import { startAzurite } from '../servers/azurite.ts';
import { startSshd } from '../servers/sshd.ts';
import { restoreWith, switchAndArchive } from './pg.ts';
import { DIRECTIONS, REFERENCE, ok, pushedName, writeConfig } from './harness.ts';
import type { Tool } from './harness.ts';

const skip = REFERENCE.pg ? false : 'WALG_REFERENCE_PG is not set';
/** A segment on a timeline the cluster never reaches, so it cannot collide with archived WAL. */
const SEGMENT = '0000000A00000000000000F7';
const CRYPTO = { WALG_COMPRESSION_METHOD: 'lz4', WALG_LIBSODIUM_KEY: Buffer.alloc(32, 9).toString('base64'), WALG_LIBSODIUM_KEY_TRANSFORM: 'base64' };

/** One started storage service: settings for a fresh prefix per direction, and the tools as they must run. */
interface Backend {
  settings(sub: string): Record<string, string>;
  /** The tool as archive_command, restore_command and the test run it (a wrapper when it needs process env). */
  tool(t: Tool): Tool;
  /**
   * Whether `st ls` rows come in an order of the service's own (WAL-G's SSH storage lists in the server's readdir
   * order, ours in name order), so that rows are compared as a set.
   */
  unorderedListing?: boolean;
  stop(): Promise<void>;
}

/** A WAL-like segment: compressible pages with some noise, 16 MiB. */
function makeSegment(): Buffer {
  const page = Buffer.alloc(8192);
  const out: Buffer[] = [];
  for (let i = 0; i < 2048; i++) {
    page.fill((i * 7) & 0xff, 0, 4096);
    randomBytes(512).copy(page, 4096);
    out.push(Buffer.from(page));
  }
  return Buffer.concat(out);
}

async function s3Backend(): Promise<Backend> {
  const srv = await startSwift();
  const bucket = `walg-interop-${randomBytes(3).toString('hex')}`;
  await createContainer(srv, bucket);
  return {
    settings: (sub) => ({
      WALG_S3_PREFIX: `s3://${bucket}/${sub}`, AWS_ENDPOINT: srv.s3Endpoint, AWS_S3_FORCE_PATH_STYLE: 'true', AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: srv.user, AWS_SECRET_ACCESS_KEY: srv.key,
    }),
    tool: (t) => t,
    stop: () => srv.stop(),
  };
}

/**
 * An HTTP CONNECT proxy that accepts tunnels to *.blob.<suffix>:443 only, terminates their TLS with `cert`/`key`
 * and relays the plain HTTP to 127.0.0.1:<port>.
 */
async function tlsRelay(suffix: string, cert: Buffer, key: Buffer, port: number): Promise<Server> {
  const ctx = createSecureContext({ cert, key });
  const sockets = new Set<Socket>();
  const proxy = createServer((_req, res) => { res.statusCode = 405; res.end(); });
  proxy.on('connect', (req, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    if (!new RegExp(`^[a-z0-9]+\\.blob\\.${suffix.replace(/\./g, '\\.')}:443$`).test(req.url ?? '')) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) client.unshift(head);
    const tls = new TLSSocket(client, { isServer: true, secureContext: ctx });
    const upstream = connect(port, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => { sockets.delete(upstream); tls.destroy(); });
    tls.on('error', () => upstream.destroy());
    upstream.on('error', () => tls.destroy());
    tls.pipe(upstream).pipe(tls);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxy.on('close', () => { for (const s of sockets) s.destroy(); });
  return proxy;
}

async function azureBackend(): Promise<Backend> {
  const srv = await startAzurite();
  const container = `walg-interop-${randomBytes(3).toString('hex')}`;
  await srv.createContainer(container);
  const suffix = 'core.azurite.test';
  // Readable by the cluster user: archive_command and restore_command run the wrappers as it.
  const dir = userTempDir('walg-interop-azure-');
  chmodSync(dir, 0o755);
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-keyout', keyFile, '-out', certFile, '-subj', '/CN=azurite interop', '-addext', `subjectAltName=DNS:*.blob.${suffix}`,
    '-addext', 'basicConstraints=critical,CA:TRUE'], { stdio: 'ignore' });
  chmodSync(certFile, 0o644);
  const proxy = await tlsRelay(suffix, readFileSync(certFile), readFileSync(keyFile), Number(new URL(srv.endpoint).port));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const wrappers = new Map<string, Tool>();
  return {
    settings: (sub) => ({
      WALG_AZ_PREFIX: `azure://${container}/${sub}`, AZURE_STORAGE_ACCOUNT: srv.account, AZURE_STORAGE_ACCESS_KEY: srv.key,
      AZURE_ENDPOINT_SUFFIX: suffix,
    }),
    tool: (t) => {
      let w = wrappers.get(t.name);
      if (!w) {
        const bin = join(dir, `${t.name}.sh`);
        writeFileSync(bin, `#!/bin/sh\nHTTPS_PROXY=${proxyUrl} SSL_CERT_FILE=${certFile} exec ${t.bin} "$@"\n`, { mode: 0o755 });
        w = { name: t.name, bin };
        wrappers.set(t.name, w);
      }
      return w;
    },
    async stop() {
      await new Promise((r) => proxy.close(r));
      await srv.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function sshBackend(): Promise<Backend> {
  const srv = await startSshd();
  const root = await mkdtemp(join(srv.dir, 'root-'));
  // archive_command and restore_command run as the cluster's OS user: give it its own copy of the client key.
  const keyDir = userTempDir('walg-interop-ssh-key-');
  const key = join(keyDir, 'id_ed25519');
  copyFileSync(srv.privateKeyPath, key);
  chownSync(key, pgIdentity().uid, pgIdentity().gid);
  return {
    settings: (sub) => ({
      WALG_SSH_PREFIX: `ssh://${srv.host}${root}/${sub}`, SSH_PORT: String(srv.port), SSH_USERNAME: srv.user, SSH_PRIVATE_KEY_PATH: key,
    }),
    tool: (t) => t,
    unorderedListing: true,
    async stop() {
      await srv.stop();
      rmSync(keyDir, { recursive: true, force: true });
    },
  };
}

const KINDS: Array<[string, () => Promise<Backend>]> = [['S3 (Swift s3api)', s3Backend], ['Azure (Azurite)', azureBackend], ['SSH (OpenSSH sftp)', sshBackend]];

let segment: Buffer;
let scratch: string;
before(() => {
  if (skip) return;
  segment = makeSegment();
  scratch = userTempDir('walg-interop-storages-');
});
after(() => { if (scratch) rmSync(scratch, { recursive: true, force: true }); });

for (const [kind, startBackend] of KINDS) {
  describe(`${kind}: both directions`, { skip, timeout: 300_000 }, () => {
    let backend: Backend | undefined;
    let cluster: PgCluster | undefined;
    let work: string;
    const cfgs: string[] = [];
    const archiveScript = (): string => join(work, 'archive.sh');
    /** Points archive_command at `tool` with `cfg` (a script the cluster runs; replaced atomically). */
    const archiveWith = (tool: Tool, cfg: string): void => {
      writeFileSync(`${archiveScript()}.new`, `#!/bin/sh\nexec ${tool.bin} wal-push "$1" --config ${cfg}\n`, { mode: 0o755 });
      renameSync(`${archiveScript()}.new`, archiveScript());
    };

    /** A listing as compared: as printed, or with its rows sorted where the order is the service's. */
    const rowOrder = (out: string): string => {
      if (!backend?.unorderedListing) return out;
      const [head, ...rows] = out.split('\n');
      return [head, ...rows.sort()].join('\n');
    };

    before(async () => {
      work = await mkdtemp(join(scratch, 'kind-'));
      chmodSync(work, 0o755);
      backend = await startBackend();
      for (const [i, [writer, reader]] of DIRECTIONS.entries()) {
        cfgs.push(writeConfig(work, { ...backend.settings(`${writer.name}-to-${reader.name}`), ...CRYPTO }, `walg-${i}.json`));
      }
      archiveWith(backend.tool(DIRECTIONS[0]![0]), cfgs[0]!);
      cluster = await initCluster({
        archive_mode: 'on', archive_command: `${archiveScript()} %p`, autovacuum: 'off', max_wal_size: '1GB', checkpoint_timeout: '30min',
      });
      await cluster.start();
      await cluster.pgbench(['-i', '-s', '1', '-q']);
    });
    after(async () => {
      await cluster?.destroy();
      await backend?.stop();
    });

    for (const [i, [w, r]] of DIRECTIONS.entries()) {
      const names = `${w.name} writes, ${r.name} reads`;
      const tools = (): { writer: Tool; reader: Tool; cfg: string } => ({ writer: backend!.tool(w), reader: backend!.tool(r), cfg: cfgs[i]! });

      test(`${names}: wal-push of a 16 MiB segment, wal-fetch byte-identical`, async () => {
        const { writer, reader, cfg } = tools();
        const dir = await mkdtemp(join(work, `wal-${i}-`));
        mkdirSync(join(dir, 'pg_wal', 'archive_status'), { recursive: true });
        const walFile = join(dir, 'pg_wal', SEGMENT);
        writeFileSync(walFile, segment);
        await ok(writer, cfg, ['wal-push', walFile]);
        assert.match((await ok(reader, cfg, ['st', 'ls', 'wal_005/'])).out, new RegExp(`^obj\\s+\\d+\\s.*\\s${SEGMENT}\\.lz4\\s*$`, 'm'));
        await ok(reader, cfg, ['wal-fetch', SEGMENT, join(dir, 'fetched')]);
        assert.ok(readFileSync(join(dir, 'fetched')).equals(segment), 'the fetched segment is byte-identical');
      });

      test(`${names}: st put; st get, st ls and st stat`, async () => {
        const { writer, reader, cfg } = tools();
        const dir = await mkdtemp(join(work, `st-${i}-`));
        const body = Buffer.concat([Buffer.from('interop object\n'), randomBytes(200_000), Buffer.alloc(300_000, 5)]);
        writeFileSync(join(dir, 'obj'), body);
        await ok(writer, cfg, ['st', 'put', join(dir, 'obj'), 'folder/obj']);
        await ok(reader, cfg, ['st', 'get', 'folder/obj.lz4', join(dir, 'got')]);
        assert.ok(readFileSync(join(dir, 'got')).equals(body), 'st get returns the bytes st put stored');
        for (const args of [['st', 'ls', 'folder/'], ['st', 'ls'], ['st', 'ls', '-r', 'folder/'], ['st', 'stat', 'folder/obj.lz4']]) {
          const mine = (await ok(reader, cfg, args)).out;
          const theirs = (await ok(writer, cfg, args)).out;
          assert.equal(rowOrder(mine), rowOrder(theirs), `${args.join(' ')}: ${reader.name} prints what ${writer.name} prints`);
        }
        assert.match((await ok(reader, cfg, ['st', 'ls', 'folder/'])).out, /^obj\s+\d+\s+.*\sobj\.lz4\s*$/m);
      });

      test(`${names}: backup-push; backup-list the same from both; backup-fetch and recovery give the same dump`, async () => {
        const { writer, reader, cfg } = tools();
        // From here on this direction's writer archives into this direction's prefix, where the backup's WAL must be;
        // what was archived before stays in the previous direction's prefix.
        if (i > 0) {
          archiveWith(writer, cfg);
          await switchAndArchive(cluster!);
        }
        await cluster!.pgbench(['-t', '200', '-c', '2', '-n']);
        const name = pushedName((await ok(writer, cfg, ['backup-push', cluster!.dataDir], cluster!.env)).stderr);
        const dump = await cluster!.dumpAll();
        const list = JSON.parse((await ok(reader, cfg, ['backup-list', '--json', '--detail'])).out) as Array<Record<string, unknown>>;
        assert.deepEqual(list.map((b) => b.backup_name), [name]);
        assert.deepEqual(list, JSON.parse((await ok(writer, cfg, ['backup-list', '--json', '--detail'])).out));
        for (const args of [['backup-list'], ['backup-list', '--detail'], ['backup-list', '--pretty']]) {
          assert.equal((await ok(reader, cfg, args)).out, (await ok(writer, cfg, args)).out, `${args.join(' ')}: the same from both tools`);
        }
        await restoreWith(reader, cfg, name, dump);
      });
    }
  });
}

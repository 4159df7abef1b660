// A private OpenSSH sshd for integration tests: its own sshd_config, host key, client key and authorized_keys in a
// temp dir, listening on a free loopback port, with the SFTP subsystem served in-process (internal-sftp).
// Run as root (the sandbox), it allows key login for root and, on request, password login for a dedicated test user;
// run as anyone else, it serves only that user by key. stop() kills it and removes the temp dir.

import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile, readFile, chmod } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export const SSHD = '/usr/sbin/sshd';
/** OS user for the password-login test (created when missing; only when the tests run as root). */
export const SSH_PASSWORD_USER = 'walgssh';

export interface SshServer {
  host: string;
  port: number;
  /** The user the client key logs in as (the user running the tests). */
  user: string;
  /** Path of the unencrypted OpenSSH private key authorised for `user`. */
  privateKeyPath: string;
  /** Temp dir of this server; a good place for storage roots. */
  dir: string;
  /** Password login (root runs only): the user, its fresh random password and its uid/gid. */
  password?: { user: string; password: string; uid: number; gid: number };
  stop(): Promise<void>;
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** Creates (if needed) the password-login user and gives it a fresh random password. Root only. */
function preparePasswordUser(): { user: string; password: string; uid: number; gid: number } {
  try {
    execFileSync('id', ['-u', SSH_PASSWORD_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--no-create-home', '--shell', '/bin/sh', SSH_PASSWORD_USER], { stdio: 'ignore' });
  }
  const password = randomBytes(18).toString('base64url');
  execFileSync('chpasswd', [], { input: `${SSH_PASSWORD_USER}:${password}\n`, stdio: ['pipe', 'ignore', 'ignore'] });
  const uid = Number(execFileSync('id', ['-u', SSH_PASSWORD_USER]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', SSH_PASSWORD_USER]).toString().trim());
  return { user: SSH_PASSWORD_USER, password, uid, gid };
}

/**
 * Starts sshd -D on a free loopback port and resolves once it accepts connections. `withPassword` (root only)
 * also enables password login for SSH_PASSWORD_USER with a random password. Throws if sshd is not installed.
 */
export async function startSshd(opts: { withPassword?: boolean } = {}): Promise<SshServer> {
  accessSync(SSHD, constants.X_OK);
  const isRoot = process.getuid?.() === 0;
  // Root sshd needs its privilege-separation directory; the Debian service creates it at boot, we may have to.
  if (isRoot) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(tmpdir(), 'walg-sshd-'));
  // Traversable by the password-login user, whose storage roots live below it (the keys stay 0600).
  await chmod(dir, 0o755);
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', clientKey]);
  await writeFile(join(dir, 'authorized_keys'), await readFile(`${clientKey}.pub`));
  await chmod(join(dir, 'authorized_keys'), 0o600);
  const password = isRoot && opts.withPassword ? preparePasswordUser() : undefined;
  const port = await freePort();
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    // The temp dir lives under world-writable /tmp, which StrictModes would reject.
    'StrictModes no',
    'PubkeyAuthentication yes',
    `PasswordAuthentication ${password ? 'yes' : 'no'}`,
    'KbdInteractiveAuthentication no',
    // No PAM: passwords are checked against the shadow file directly, with no session modules to slow logins.
    'UsePAM no',
    isRoot ? 'PermitRootLogin prohibit-password' : '',
    password ? `AllowUsers ${userInfo().username} ${password.user}` : `AllowUsers ${userInfo().username}`,
    'Subsystem sftp internal-sftp',
    'MaxSessions 50',
    'MaxStartups 50:30:100',
    'LogLevel ERROR',
    '',
  ].filter((l, i, a) => l !== '' || i === a.length - 1).join('\n');
  const configPath = join(dir, 'sshd_config');
  await writeFile(configPath, config, { mode: 0o600 });
  const proc: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  // No stray daemons if the test process ends without calling stop().
  const killOnExit = () => { try { proc.kill('SIGTERM'); } catch { /* gone */ } };
  process.once('exit', killOnExit);
  const deadline = Date.now() + 15_000;
  while (!(await portOpen(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`sshd did not start on port ${port}: ${stderr.trim() || `exit ${proc.exitCode}`}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: '127.0.0.1', port, user: userInfo().username, privateKeyPath: clientKey, dir, password,
    async stop() {
      process.off('exit', killOnExit);
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP relay on a free loopback port in front of `targetPort`, for "the storage stops answering" tests:
 * freeze() stops relaying in both directions (the peer sees silence, not a reset); drop() resets the open
 * connections but keeps accepting new ones; kill() also stops listening (then connections are refused).
 */
export interface TcpProxy {
  port: number;
  /** Bytes relayed client → server so far. */
  readonly upBytes: number;
  freeze(): void;
  drop(): void;
  /** kill() as soon as `bytes` more bytes went client → server (to cut an upload in the middle). */
  killAfterUpBytes(bytes: number): void;
  kill(): Promise<void>;
}

/** Starts a TcpProxy to 127.0.0.1:targetPort. */
export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let frozen = false;
  let up = 0;
  let killAt = Infinity;
  let kill: () => Promise<void> = async () => {};
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client);
    sockets.add(upstream);
    const relay = (from: Socket, to: Socket, count: boolean) => from.on('data', (c: Buffer) => {
      if (frozen) return; // swallow: the far side waits forever, as with a dead host
      if (count) up += c.length;
      if (up >= killAt) { killAt = Infinity; void kill(); return; }
      if (!to.write(c)) { from.pause(); to.once('drain', () => from.resume()); }
    });
    relay(client, upstream, true);
    relay(upstream, client, false);
    const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const drop = () => {
    for (const s of sockets) s.resetAndDestroy();
    sockets.clear();
  };
  kill = async () => {
    drop();
    if (server.listening) await new Promise((r) => server.close(r));
  };
  return {
    port: (server.address() as { port: number }).port,
    get upBytes() { return up; },
    freeze() { frozen = true; },
    drop,
    killAfterUpBytes(bytes: number) { killAt = up + bytes; },
    kill: () => kill(),
  };
}

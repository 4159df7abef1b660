// What backup-push adds for an xtrabackup / mariabackup command, as WAL-G does (compat: internal/databases/mysql/
// xtrabackup.go): `--extra-lsndir=<temp dir>` appended to the command, the LSNs read back from the
// xtrabackup_checkpoints file it writes there (the sentinel's LSN and DeltaLSN, which WAL-G's xtrabackup-push needs
// to make an incremental on top of the backup), and this machine's OS and architecture in Go's names.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError } from '../core/errors.ts';
import { log } from '../core/log.ts';

/** The LSNs of xtrabackup_checkpoints (compat: XtrabackupInfo); a key that is missing or unparsable is absent. */
export interface XtrabackupInfo { fromLsn?: bigint; toLsn?: bigint; lastLsn?: bigint }

const UINT64_MAX = (1n << 64n) - 1n;

/** compat: ParseLSN, Go's strconv.ParseUint(s, 0, 64): decimal, 0x hex, 0b binary, 0o or leading-0 octal. */
export function parseLsn(s: string): bigint | undefined {
  let v: bigint;
  if (/^[1-9]\d*$|^0$/.test(s)) v = BigInt(s);
  else if (/^0[xX][0-9a-fA-F]+$/.test(s) || /^0[bB][01]+$/.test(s)) v = BigInt(s);
  else if (/^0[oO]?[0-7]+$/.test(s)) v = BigInt(`0o${s.replace(/^0[oO]?/, '')}`);
  else return undefined;
  return v <= UINT64_MAX ? v : undefined;
}

/** compat: NewXtrabackupInfo — `key = value` lines; from_lsn, to_lsn and last_lsn are read. */
export function parseXtrabackupCheckpoints(text: string): XtrabackupInfo {
  const info: XtrabackupInfo = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = parseLsn(line.slice(eq + 1).trim());
    if (key === 'from_lsn') info.fromLsn = value;
    else if (key === 'to_lsn') info.toLsn = value;
    else if (key === 'last_lsn') info.lastLsn = value;
  }
  return info;
}

/**
 * compat: injectCommandArgument — the argument is appended to the whole shell command (WAL-G runs `sh -c
 * <command>`, so it lands on the command's last word list, which is expected to be the backup tool's).
 */
export function withExtraLsnDir(command: string, dir: string): string {
  return `${command} --extra-lsndir=${dir}`;
}

/** A fresh wal-g* directory under the temp dir for --extra-lsndir. */
export function makeExtraLsnDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'wal-g'));
}

/** Reads xtrabackup_checkpoints from `dir`; a missing or unreadable file is a warning and no LSNs, as in WAL-G. */
export async function readXtrabackupInfo(dir: string): Promise<XtrabackupInfo> {
  try {
    return parseXtrabackupCheckpoints(await readFile(join(dir, 'xtrabackup_checkpoints'), 'utf8'));
  } catch (err) {
    log.warn(`failed to read and parse \`xtrabackup_checkpoints\`: ${describeError(err)}`);
    return {};
  }
}

/** Removes the --extra-lsndir directory; never throws (a leftover is a warning). */
export async function removeExtraLsnDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true }).catch((err: unknown) => {
    log.warn(`failed to remove tmp directory from diff-backup: ${describeError(err)}`);
  });
}

const GO_ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips: 'mips', mipsel: 'mipsle' };
const GO_OS: Record<string, string> = { win32: 'windows', sunos: 'solaris' };

/** compat: runtime.GOARCH of this machine ('amd64', 'arm64', ...). */
export function goArch(arch: string = process.arch): string { return GO_ARCH[arch] ?? arch; }

/** compat: runtime.GOOS of this machine ('linux', 'darwin', 'windows', ...). */
export function goOs(platform: string = process.platform): string { return GO_OS[platform] ?? platform; }

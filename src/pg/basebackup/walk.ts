// backup-push's file walk (walg-format.md §1.3): PGDATA in filepath.Walk order, with WAL-G's exclusions, the
// tablespace links followed into their targets, and pg_control held back for the end; plus the tar header of
// each walked object, as Go's tar.FileInfoHeader fills it.

import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { LocalFileError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { TAR_TYPE } from '../../tar/header.ts';
import type { TarHeaderInput } from '../../tar/header.ts';

/** compat: internal/databases/postgres/bundle.go ExcludedFilenames — matched against base names anywhere. */
export const EXCLUDED_NAMES: ReadonlySet<string> = new Set([
  'log', 'pg_log', 'pg_xlog', 'pg_wal',
  'pgsql_tmp', 'postgresql.auto.conf.tmp', 'postmaster.pid', 'postmaster.opts', 'recovery.conf',
  'pg_dynshmem', 'pg_notify', 'pg_replslot', 'pg_serial', 'pg_stat_tmp', 'pg_snapshots', 'pg_subtrans',
  'standby.signal',
]);

/** One object found by the walk, with its tar entry name (PGDATA-relative with a leading '/'). */
export interface WalkItem {
  kind: 'dir' | 'file' | 'symlink';
  name: string;
  path: string;
  st: BigIntStats;
}

/** What the walk collects on the way: sizes for the sentinel, the tablespace spec, and the held-back pg_control. */
export interface WalkState {
  root: string;
  /** compat: DataCatalogSize — the lstat size of every object visited, excluded or not. */
  dataCatalogSize: number;
  /** Tablespace links under pg_tblspc, in walk order, and their resolved targets. */
  spec: { names: string[]; locations: Map<string, string> };
  pgControl?: { path: string; st: BigIntStats };
  /** Base names left out (default EXCLUDED_NAMES; catchup-push adds the configuration files). */
  excluded: ReadonlySet<string>;
}

/** A fresh walk state for the data directory `root`, leaving out `excluded` base names. */
export function newWalkState(root: string, excluded: ReadonlySet<string> = EXCLUDED_NAMES): WalkState {
  return { root, dataCatalogSize: 0, spec: { names: [], locations: new Map() }, excluded };
}

/** True for the error of a path that vanished (a file deleted while the backup runs is not a failure). */
export const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';

async function lstatOrNull(path: string): Promise<BigIntStats | undefined> {
  try { return await lstat(path, { bigint: true }); } catch (err) {
    if (isMissing(err)) { log.warn(`${path}  deleted during filepath walk`); return undefined; }
    throw new LocalFileError(`HandleWalkedFSObject: walk failed: ${(err as Error).message}`, { cause: err });
  }
}

async function sortedNames(dir: string): Promise<string[] | undefined> {
  try {
    // compat: filepath.Walk visits names in lexical (byte) order.
    return (await readdir(dir)).sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
  } catch (err) {
    if (isMissing(err)) { log.warn(`${dir}  deleted during filepath walk`); return undefined; }
    throw new LocalFileError(`HandleWalkedFSObject: walk failed: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Walks `path` (entry name `name`) in filepath.Walk order: lstat, no symlinks followed, except the tablespace links
 * pg_tblspc/<oid> whose targets are walked as /pg_tblspc/<oid>/... (compat: bundle.go HandleWalkedFSObject).
 * Records sizes, tablespace links and pg_control in `state`; throws LocalFileError when a directory cannot be read.
 */
export async function* walkTree(state: WalkState, path: string, name: string, st: BigIntStats): AsyncGenerator<WalkItem> {
  state.dataCatalogSize += Number(st.size);
  const base = basename(path);
  const excluded = name !== '/' && state.excluded.has(base);
  if (st.isDirectory()) {
    yield { kind: 'dir', name, path, st };
    if (excluded) return; // compat: the directory is kept (recreated empty), its contents are not
    const isTblspc = name === '/pg_tblspc';
    const names = await sortedNames(path);
    if (!names) return;
    for (const child of names) {
      const childPath = join(path, child);
      const childName = name === '/' ? `/${child}` : `${name}/${child}`;
      const cst = await lstatOrNull(childPath);
      if (!cst) continue;
      if (isTblspc && cst.isSymbolicLink()) {
        // The link itself is not stored; the sentinel Spec describes it (§5.4).
        state.dataCatalogSize += Number(cst.size);
        const target = resolve(path, await readlink(childPath)).replace(/\/+$/, '') || '/';
        state.spec.names.push(child);
        state.spec.locations.set(child, target);
        const tst = await lstatOrNull(target);
        if (!tst) continue;
        if (!tst.isDirectory()) throw new LocalFileError(`tablespace link ${childPath} points to '${target}', which is not a directory`);
        yield* walkTree(state, target, childName, tst);
        continue;
      }
      if (childName === '/global/pg_control' && cst.isFile()) {
        // compat: held back and uploaded alone, after every part (the "sentinel" of the walk).
        state.dataCatalogSize += Number(cst.size);
        state.pgControl = { path: childPath, st: cst };
        continue;
      }
      yield* walkTree(state, childPath, childName, cst);
    }
    return;
  }
  if (excluded) return; // excluded files (and a symlinked pg_wal) are skipped entirely
  if (st.isFile()) { yield { kind: 'file', name, path, st }; return; }
  if (st.isSymbolicLink()) { yield { kind: 'symlink', name, path, st }; return; }
  log.warn(`Skipping ${path}: sockets, FIFOs and devices are not backed up`);
}

// Owner names for tar headers (compat: Go's FileInfoHeader fills Uname/Gname from the user database).
let idNames: { users: Map<number, string>; groups: Map<number, string> } | undefined;
async function ownerNames(): Promise<{ users: Map<number, string>; groups: Map<number, string> }> {
  if (idNames) return idNames;
  const parse = async (file: string) => {
    const m = new Map<number, string>();
    try {
      for (const line of (await readFile(file, 'utf8')).split('\n')) {
        const f = line.split(':');
        if (f.length >= 3 && f[0] && /^\d+$/.test(f[2]!) && !m.has(Number(f[2]))) m.set(Number(f[2]), f[0]);
      }
    } catch { /* no user database: names stay empty */ }
    return m;
  };
  idNames = { users: await parse('/etc/passwd'), groups: await parse('/etc/group') };
  return idNames;
}

/** Tar header of a walked object (compat: tar.FileInfoHeader with Name replaced by the PGDATA-relative path). */
export async function headerFor(item: WalkItem): Promise<TarHeaderInput> {
  const ids = await ownerNames();
  const uid = Number(item.st.uid);
  const gid = Number(item.st.gid);
  // compat: Go's tar.Writer rounds ModTime to whole seconds when no Format is set.
  const mtime = Number((item.st.mtimeNs + 500_000_000n) / 1_000_000_000n);
  return {
    name: item.name,
    type: item.kind === 'dir' ? TAR_TYPE.directory : item.kind === 'symlink' ? TAR_TYPE.symlink : TAR_TYPE.file,
    mode: Number(item.st.mode) & 0o7777,
    uid, gid, uname: ids.users.get(uid) ?? '', gname: ids.groups.get(gid) ?? '',
    size: item.kind === 'file' ? Number(item.st.size) : 0,
    mtime,
    // compat: WAL-G passes the file's own base name as the link target (tar.FileInfoHeader(info, fileName)).
    linkname: item.kind === 'symlink' ? basename(item.path) : '',
  };
}

// backup-fetch of a PostgreSQL base backup (walg-format.md §4.5 "old" forward algorithm, non-delta part): pick the
// backup, lay out tablespace links, download tar partitions in parallel, decrypt -> decompress -> extract each one
// confined to the target and the declared tablespace locations, then backup_label.tar and pg_control.tar last.

import { lstat, mkdir, readFile, readdir, realpath, symlink } from 'node:fs/promises';
import { isAbsolute, join, normalize, posix } from 'node:path';
import { CancelledError, ConfigError, CorruptObjectError, LocalFileError, ObjectNotFoundError, StorageError, UsageError, WalgError, describeError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { parseJsonExact } from '../../backup/json.ts';
import { filesMetadataKey, tarPartitionsFolder } from '../../backup/layout.ts';
import { readSentinel } from '../../backup/sentinel.ts';
import { selectBackup } from '../../backup/select.ts';
import type { BackupSentinel } from '../../backup/sentinel.ts';
import { compressorForExtension } from '../../pipeline/compress/index.ts';
import { decodeStages, through } from '../../pipeline/pipeline.ts';
import type { Crypter } from '../../pipeline/types.ts';
import type { Storage } from '../../storage/types.ts';
import { FilesTable, fetchFilesMetadata } from '../files-metadata.ts';
import type { FilesMetadata } from '../files-metadata.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { readTar } from '../../tar/reader.ts';
import { SafeExtractor, SyncBehind } from '../../tar/extract.ts';
import { FileSystemSync } from '../../tar/filesystem-sync.ts';
import type { RestoreSyncMethod } from '../../tar/filesystem-sync.ts';
import { applyIncrement } from '../pagefile.ts';

/** compat: internal/databases/postgres/backup.go UtilityFilePaths — always wanted when Files is non-empty. */
const UTILITY_FILES = new Set(['/global/pg_control', 'backup_label', 'tablespace_map']);
const PG_CONTROL_TAR = /^.*?pg_control\.tar(\..+$|$)/;
const BACKUP_LABEL_TAR = /^.*?backup_label\.tar(\..+$|$)/;

/** Inputs of backupFetch. */
export interface BackupFetchOptions {
  storage: Storage;
  /** Decrypts tar partitions (undefined when encryption is off). */
  crypter?: Crypter;
  /** Target data directory: created 0700 when missing, must be empty when present. */
  destination: string;
  /** A backup name or LATEST; exclusive with targetUserData. */
  backupName?: string;
  /** Raw JSON text: fetch the one backup whose UserData equals it. */
  targetUserData?: string;
  /** Glob (Go filepath.Match syntax) over entry names without the leading '/': only matching files are restored. */
  mask?: string;
  /** Path of a JSON tablespace spec (same shape as the sentinel Spec) that relocates tablespaces. */
  restoreSpecPath?: string;
  /** WALG_DOWNLOAD_CONCURRENCY (default 10). */
  downloadConcurrency?: number;
  /** Retry rounds for a tar whose download or decoding failed (default 2). */
  retries?: number;
  /** Make the restore durable (default true; WALG_TAR_DISABLE_FSYNC turns it off). */
  fsync?: boolean;
  /** How (WALG_RESTORE_SYNC_METHOD): an fsync per file (default), or one syncfs per file system at the end. */
  syncMethod?: RestoreSyncMethod;
  signal?: AbortSignal;
}

/** What backupFetch restored. */
export interface BackupFetchResult {
  name: string;
  sentinel: BackupSentinel;
  /** Tar object names in extraction order (prefixed with `<backup>/` when a delta chain was restored). */
  tars: string[];
}

/** A tablespace of the spec: where its files go and its link name under pg_tblspc. */
export interface TablespaceLocation {
  name: string;
  /** Normalized absolute path, no trailing slash: what the checks and the extractor use. */
  location: string;
  /** What pg_tblspc/<name> points at: the location, with the trailing slash the spec wrote (WAL-G keeps it). */
  linkTarget?: string;
}

/** compat: Go's filepath.Match, as a RegExp ('*' and '?' never match '/', classes with '^' negation, '\' escapes). */
export function globToRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= pattern.length) throw new UsageError(`syntax error in pattern '${pattern}'`);
      re += escapeRe(pattern[i]!);
    } else if (c === '[') {
      let j = i + 1;
      let cls = '';
      if (pattern[j] === '^') { cls += '^'; j++; }
      let first = true;
      for (;; first = false) {
        if (j >= pattern.length) throw new UsageError(`syntax error in pattern '${pattern}'`);
        if (pattern[j] === ']' && !first) break;
        let lo = pattern[j]!;
        if (lo === '\\') { j++; lo = pattern[j] ?? ''; if (!lo) throw new UsageError(`syntax error in pattern '${pattern}'`); }
        j++;
        cls += escapeClass(lo);
        if (pattern[j] === '-' && pattern[j + 1] !== ']' && j + 1 < pattern.length) {
          let hi = pattern[j + 1]!;
          j += 2;
          if (hi === '\\') { hi = pattern[j] ?? ''; j++; if (!hi) throw new UsageError(`syntax error in pattern '${pattern}'`); }
          if (hi < lo) throw new UsageError(`syntax error in pattern '${pattern}'`);
          cls += `-${escapeClass(hi)}`;
        }
      }
      re += `[${cls}]`;
      i = j;
    } else re += escapeRe(c);
  }
  return new RegExp(`${re}$`, 'su');
}
const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const escapeClass = (c: string) => c.replace(/[\\\]^-]/g, '\\$&');

/**
 * Parses a tablespace spec (sentinel `Spec` or a --restore-spec file): `base_prefix`, `tablespaces`, and one
 * `{"loc","link"}` per name. Refuses names and links that are not plain `pg_tblspc/<name>` and relative locations,
 * since they decide where files are written.
 */
export function parseTablespaceSpec(raw: unknown, what: string): TablespaceLocation[] {
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new CorruptObjectError(`${what}: tablespace spec is not a JSON object`);
  const o = raw as Record<string, unknown>;
  if (typeof o.base_prefix !== 'string') throw new CorruptObjectError(`${what}: base prefix not set while working with tablespaces`);
  const names = o.tablespaces;
  if (names === undefined || names === null) return [];
  if (!Array.isArray(names)) throw new CorruptObjectError(`${what}: "tablespaces" is not an array`);
  const out: TablespaceLocation[] = [];
  for (const n of names) {
    if (typeof n !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(n) || n === '.' || n === '..') {
      throw new LocalFileError(`${what}: refusing tablespace name ${JSON.stringify(n)}`);
    }
    const e = o[n] as Record<string, unknown> | undefined;
    if (!e || typeof e !== 'object' || typeof e.loc !== 'string') throw new CorruptObjectError(`${what}: bad json structure. Couldn't find entry for symlink ${n}`);
    if (e.link !== undefined && posix.normalize(String(e.link)) !== `pg_tblspc/${n}`) {
      throw new LocalFileError(`${what}: refusing tablespace ${n}: link '${String(e.link)}' is not pg_tblspc/${n}`);
    }
    const loc = e.loc;
    if (!isAbsolute(loc) || loc.includes('\0')) throw new LocalFileError(`${what}: refusing tablespace ${n}: location '${loc}' is not an absolute path`);
    const norm = normalize(loc).replace(/\/+$/, '');
    if (norm === '') throw new LocalFileError(`${what}: refusing tablespace ${n}: location '/' is not allowed`);
    // compat: WAL-G links pg_tblspc/<name> to the loc as written, so a trailing slash shows in
    // pg_tablespace_location() after the restore; keep it in the link (the checks use the normalized path).
    out.push({ name: n, location: norm, linkTarget: loc.endsWith('/') ? `${norm}/` : norm });
  }
  return out;
}

async function isEmptyDir(path: string, ignore: readonly string[] = []): Promise<boolean> {
  return (await readdir(path)).every((n) => ignore.includes(n));
}

/** Creates `dir` (0700, with parents) or checks that it is an empty directory; returns its real path. */
async function prepareDestination(dir: string): Promise<string> {
  const abs = normalize(isAbsolute(dir) ? dir : join(process.cwd(), dir));
  let st;
  try { st = await lstat(abs); } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!st) {
    await mkdir(abs, { recursive: true, mode: 0o700 });
  } else {
    const real = await realpath(abs);
    if (!(await lstat(real)).isDirectory()) throw new LocalFileError(`Destination '${dir}' is not a directory`);
    // compat: WAL-G's NonEmptyDBDataDirectoryError text.
    if (!(await isEmptyDir(real))) throw new LocalFileError(`Failed to fetch backup: Directory ${dir} for delta base must be empty`);
  }
  return realpath(abs);
}

/**
 * Creates each tablespace location (0700) or checks that it is empty, and the pg_tblspc/<name> -> location links
 * inside the target. Returns the extractor mounts. compat: WAL-G makes the links under the spec's base_prefix
 * (the original PGDATA); we always make them in the target, so nothing is written outside the target and the
 * declared locations.
 */
async function prepareTablespaces(root: string, spaces: readonly TablespaceLocation[]): Promise<Map<string, string>> {
  const mounts = new Map<string, string>();
  if (spaces.length === 0) return mounts;
  await mkdir(join(root, 'pg_tblspc'), { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err; });
  for (const ts of spaces) {
    if (ts.location === root || root.startsWith(`${ts.location}/`)) {
      throw new LocalFileError(`tablespace ${ts.name}: location '${ts.location}' contains the target directory`);
    }
    let st;
    try { st = await lstat(ts.location); } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (!st) await mkdir(ts.location, { recursive: true, mode: 0o700 });
    else {
      const real = await realpath(ts.location);
      if (!(await lstat(real)).isDirectory()) throw new LocalFileError(`tablespace ${ts.name}: location '${ts.location}' is not a directory`);
      if (!(await isEmptyDir(real, ['lost+found']))) {
        throw new LocalFileError(`tablespace ${ts.name}: location '${ts.location}' is not empty (remove the old tablespace or relocate it with --restore-spec)`);
      }
    }
    const real = await realpath(ts.location);
    const link = join(root, 'pg_tblspc', ts.name);
    await symlink(ts.linkTarget ?? ts.location, link);
    log.info(`Tablespace ${ts.name}: ${link} -> ${ts.location}`);
    mounts.set(`pg_tblspc/${ts.name}`, real);
  }
  return mounts;
}

/** Downloads, decodes and extracts one tar partition. */
/**
 * Streams one stored tar (`key`, named `tarName` for its extension) through decrypt -> decompress into
 * `extractor`. Throws CorruptObjectError for an unknown extension, and whatever the stages or the extractor throw.
 */
export async function extractTar(storage: Storage, key: string, tarName: string, opts: { crypter?: Crypter }, extractor: SafeExtractor, signal?: AbortSignal): Promise<void> {
  const dot = tarName.lastIndexOf('.');
  const ext = dot < 0 ? '' : tarName.slice(dot + 1);
  const compressor = await compressorForExtension(ext);
  if (!compressor) throw new CorruptObjectError(`WAL-G does not support the file format '${ext}' in '${key}'`);
  const raw = await storage.get(key, { signal });
  // WALG_NETWORK_RATE_LIMIT is applied by the storage itself (src/storage/wrap/rate-limit.ts).
  const plain = through(raw, decodeStages({ crypter: opts.crypter, compressor }));
  try {
    await extractor.extractAll(readTar(plain, { strictTrailer: true }));
  } catch (err) {
    plain.destroy();
    raw.destroy();
    throw err;
  }
}

const retryable = (err: unknown) => err instanceof StorageError || err instanceof CorruptObjectError;

/** One backup of the chain being restored: its objects and which of its files to extract. */
interface ChainMember {
  name: string;
  sentinel: BackupSentinel;
  files: FilesTable;
  /** Entry names to extract; undefined = every entry (no files metadata). */
  wanted?: Set<string>;
  folder: string;
  concurrent: string[];
  labels: string[];
  controls: string[];
}

async function readFilesMetadata(storage: Storage, name: string, sentinel: BackupSentinel, signal?: AbortSignal): Promise<FilesMetadata> {
  if (sentinel.FilesMetadataDisabled) {
    log.info('Files metadata tracking was disabled, skipping the download of files_metadata.json');
    return { Files: new FilesTable(), TarFileSets: new Map() };
  }
  // TarFileSets is not needed: the partitions are listed.
  const meta = await fetchFilesMetadata(storage, name, signal, { tarFileSets: false });
  if (meta) return meta;
  const missing = new ObjectNotFoundError(filesMetadataKey(name));
  if (sentinel.Version >= 2) throw new CorruptObjectError(`failed to fetch files metadata: ${missing.message}`, { cause: missing });
  log.warn(`Could not fetch any files metadata. Do you restore old or WAL-E backup? err: ${missing.message}`);
  return { Files: new FilesTable(), TarFileSets: new Map() };
}

/** Lists a backup's tar partitions, split into the concurrent ones, backup_label and pg_control (§4.5 step 3). */
async function listPartitions(storage: Storage, name: string, isDelta: boolean, signal?: AbortSignal): Promise<Pick<ChainMember, 'folder' | 'concurrent' | 'labels' | 'controls'>> {
  const folder = tarPartitionsFolder(name);
  const concurrent: string[] = [];
  const labels: string[] = [];
  const controls: string[] = [];
  for await (const e of storage.list(folder, { signal })) {
    if (e.type !== 'obj') continue;
    const tarName = e.key.slice(folder.length);
    if (PG_CONTROL_TAR.test(tarName)) controls.push(tarName);
    else if (BACKUP_LABEL_TAR.test(tarName)) labels.push(tarName);
    else concurrent.push(tarName);
  }
  if (concurrent.length + labels.length + controls.length === 0) throw new CorruptObjectError(`ExtractAll: did not provide files to extract (${folder} is empty)`);
  // compat: IsPgControlRequired — WAL-E names (base_<wal>_<offset>) may lack pg_control.tar; deltas never.
  const walE = /^([^_]+._{1}[^_]+._{1})/.test(name);
  if (controls.length === 0 && (isDelta || !walE)) throw new CorruptObjectError(`Expect pg_control archive, but not found in ${name}`);
  return { folder, concurrent, labels, controls };
}

/**
 * compat: GetBaseFilesToUnwrap — what the parent must provide: the wanted files this backup skipped (unchanged) or
 * stored as increments. A wanted non-utility file this backup does not describe means broken metadata.
 */
function parentWanted(child: ChainMember): Set<string> {
  const out = new Set<string>();
  for (const f of child.wanted ?? child.files.keys()) {
    const d = child.files.get(f);
    if (!d) {
      if (UTILITY_FILES.has(f)) continue;
      throw new CorruptObjectError(`Wanted file ${f} is not described in files metadata of ${child.name}`);
    }
    if (d.IsSkipped || d.IsIncremented) out.add(f);
  }
  return out;
}

/**
 * Restores a backup into opts.destination. The target must be empty (or missing: it is then created 0700);
 * tablespaces go to the sentinel Spec locations or to those of --restore-spec (then tablespace_map is not
 * restored). A delta backup is restored with WAL-G's forward algorithm (§4.5): the chain is read down to its full
 * backup first (every sentinel, file list and partition listing, before anything is written), then the full
 * backup is extracted with only the files the deltas did not replace, and each delta on top in order, increments
 * applied in place. Within each backup, tar partitions are extracted WALG_DOWNLOAD_CONCURRENCY at a time, then
 * backup_label.tar, then pg_control.tar, so an interrupted restore never leaves a startable cluster. Every entry
 * is confined (see SafeExtractor): a path-escaping entry fails the whole fetch with LocalFileError naming it.
 */
export async function backupFetch(opts: BackupFetchOptions): Promise<BackupFetchResult> {
  const { storage } = opts;
  const name = await selectBackup(storage, opts.backupName, opts.targetUserData).catch((err: unknown) => {
    // compat: WAL-G's "Failed to select backup: No backups found" / "...: Backup 'x' does not exist."
    throw new WalgError(`Failed to select backup: ${describeError(err)}`, { cause: err });
  });
  const sentinel = await readSentinel(storage, name);

  let spaces: TablespaceLocation[];
  if (opts.restoreSpecPath) {
    let text: string;
    try { text = await readFile(opts.restoreSpecPath, 'utf8'); } catch (err) {
      throw new ConfigError(`Invalid restore specification path ${opts.restoreSpecPath}: unable to read file: ${(err as Error).message}`);
    }
    let raw: unknown;
    try { raw = parseJsonExact(text); } catch (err) {
      throw new ConfigError(`Invalid restore specification path ${opts.restoreSpecPath}: unable to unmarshal json: ${(err as Error).message}`);
    }
    spaces = parseTablespaceSpec(raw, opts.restoreSpecPath);
  } else {
    spaces = parseTablespaceSpec(sentinel.Spec, `sentinel of ${name}`);
  }

  // The chain, newest first: read every sentinel, file list and listing before touching the disk.
  const mask = opts.mask ? globToRegExp(`/${opts.mask}`) : undefined;
  const chain: ChainMember[] = [];
  const seen = new Set<string>();
  for (let cur: { name: string; sentinel: BackupSentinel } | undefined = { name, sentinel }; cur;) {
    if (seen.has(cur.name)) throw new CorruptObjectError(`delta chain of ${name} loops back to ${cur.name}`);
    seen.add(cur.name);
    const isDelta = Boolean(cur.sentinel.DeltaFrom);
    const meta = await readFilesMetadata(storage, cur.name, cur.sentinel, opts.signal);
    if (isDelta && meta.Files.size === 0) throw new CorruptObjectError(`delta backup ${cur.name} has no files metadata: its chain cannot be restored`);
    let wanted: Set<string> | undefined;
    if (chain.length === 0) {
      if (meta.Files.size > 0) {
        // compat: GetFilesToUnwrap — every described file plus the utility files, narrowed by --mask.
        wanted = new Set([...meta.Files.keys(), ...UTILITY_FILES]);
        if (mask) for (const f of [...wanted]) if (!mask.test(f)) wanted.delete(f);
      }
    } else {
      wanted = parentWanted(chain[chain.length - 1]!);
    }
    chain.push({ name: cur.name, sentinel: cur.sentinel, files: meta.Files, wanted, ...await listPartitions(storage, cur.name, isDelta, opts.signal) });
    if (!isDelta) break;
    const parent: string = cur.sentinel.DeltaFrom!;
    log.info(`Delta ${cur.name} needs its parent ${parent} first`);
    let parentSentinel: BackupSentinel;
    try { parentSentinel = await readSentinel(storage, parent); } catch (err) {
      // compat: WAL-G's text (the sentinel's name without its folder), then which delta needed it.
      if (err instanceof ObjectNotFoundError) throw new CorruptObjectError(`Failed to fetch backup: object '${parent}_backup_stop_sentinel.json' not found in storage (delta backup ${cur.name} needs ${parent})`);
      throw err;
    }
    cur = { name: parent, sentinel: parentSentinel };
  }
  chain.reverse();
  // Only a delta's own file list is read while extracting (which entries are increments); a full backup's is done
  // with once its child's wanted set is known: let it go (a million-file list is tens of MB).
  for (const m of chain) if (!m.sentinel.DeltaFrom) m.files = new FilesTable();

  const root = await prepareDestination(opts.destination);
  const mounts = await prepareTablespaces(root, spaces);
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const order: string[] = [];
  // With syncfs, one descriptor per file system, opened before anything is written (so its errors are all seen);
  // files only get their writeback started behind the extraction, and syncfs waits at the end. Else files are
  // fsynced behind the extraction. Either way 2 at a time, so the thread pool keeps threads for decoding and
  // writing, and all of them before we return.
  const durable = opts.fsync !== false;
  const fsSync = durable && opts.syncMethod === 'syncfs' ? new FileSystemSync([root, ...mounts.values()]) : undefined;
  const syncBehind = durable ? new SyncBehind(2, 64, fsSync ? 'writeback' : 'fsync') : undefined;
  try {
    for (const member of chain) {
      if (member.sentinel.DeltaFrom) log.info(`Applying delta backup ${member.name} on top of ${member.sentinel.DeltaFrom}`);
      else if (chain.length > 1) log.info(`Restoring the base of the delta chain: ${member.name}`);
      await extractMember(member, opts, root, mounts, stop, order, chain.length > 1 ? `${member.name}/` : '', syncBehind);
    }
    await syncBehind?.drain();
    await fsSync?.syncAll();
  } catch (err) {
    await syncBehind?.drain().catch(() => {}); // no sync left running behind a failed restore
    fsSync?.close();
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
  log.info('Backup extraction complete.');
  return { name, sentinel, tars: order };
}

/** Extracts one backup of the chain: its concurrent tars, then backup_label.tar, then pg_control.tar. */
async function extractMember(member: ChainMember, opts: BackupFetchOptions, root: string, mounts: Map<string, string>, stop: AbortController, order: string[], label: string, syncBehind?: SyncBehind): Promise<void> {
  const { storage } = opts;
  const isDelta = Boolean(member.sentinel.DeltaFrom);
  const wanted = (entry: string): boolean => {
    // compat: with a restore spec the stored tablespace_map (old locations) is not restored.
    if (opts.restoreSpecPath && entry === 'tablespace_map') return false;
    return member.wanted ? member.wanted.has(entry) : true;
  };
  // Increments are WAL-G's page format (src/pg/pagefile.ts); the extractor only routes them.
  const increments = isDelta ? { applies: (entry: string) => member.files.isIncremented(entry), apply: applyIncrement } : undefined;
  const runOne = async (tarName: string): Promise<void> => {
    const key = `${member.folder}${tarName}`;
    const retries = Math.max(0, opts.retries ?? 2);
    for (let attempt = 0; ; attempt++) {
      if (stop.signal.aborted) throw stop.signal.reason instanceof Error ? stop.signal.reason : new CancelledError('backup-fetch cancelled');
      const extractor = new SafeExtractor({
        root, mounts, absoluteNames: 'root-relative', fsync: opts.fsync !== false, syncBehind, wanted, increments, signal: stop.signal, source: tarName,
      });
      try {
        await extractTar(storage, key, tarName, opts, extractor, stop.signal);
        log.info(`Finished extraction of ${tarName}`);
        order.push(`${label}${tarName}`);
        return;
      } catch (err) {
        // An increment half-applied cannot be re-applied from scratch (its base bytes are gone): no retry then.
        if (!retryable(err) || attempt >= retries || stop.signal.aborted || isDelta) {
          throw err instanceof WalgError ? err : new LocalFileError(`Extraction error in ${tarName}: ${(err as Error).message}`, { cause: err });
        }
        log.warn(`Extraction of ${tarName} failed (${(err as Error).message}); retrying (${retries - attempt} left)`);
        await new Promise((r) => setTimeout(r, 1000 * (attempt + 1)));
      }
    }
  };
  let firstError: unknown;
  // Failures are caught per tar, so every extraction in flight has settled (none still writing) before we throw.
  await mapLimit(member.concurrent, Math.max(1, opts.downloadConcurrency ?? 10), async (tarName) => {
    if (firstError !== undefined) return; // no new tar starts once one failed
    try { await runOne(tarName); } catch (err) {
      firstError ??= err;
      // Stop the other downloads: nothing more is written once one entry was refused or a tar failed.
      stop.abort(err);
    }
  });
  if (firstError !== undefined) throw firstError;
  // backup_label (from pg_backup_stop) overrides any stale one; pg_control goes last of all (§4.8, §5.3).
  for (const t of [...member.labels, ...member.controls]) await runOne(t);
}

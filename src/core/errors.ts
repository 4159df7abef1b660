// Typed errors: library code throws these, and only src/cli/exit-codes.ts turns them into process exit codes.
// Each class names the situation an operator sees; messages are one line and never carry secrets.

/** Base class of every error this tool raises on purpose. `code` is a stable machine-readable tag. */
export class WalgError extends Error {
  readonly code: string = 'WALG_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A command named a storage (--target-storage) that is not configured. compat: WAL-G's UseSpecificStorage text,
 * `select storage "x" in multistorage folder: unknown storage "x"`, with `read status cache: ` before the cause when
 * failover checks (the status cache) are on.
 */
export class UnknownStorageError extends WalgError {
  override readonly code = 'UNKNOWN_STORAGE';
  constructor(name: string, viaStatusCache = false) {
    super(`select storage ${goQuote(name)} in multistorage folder: ${viaStatusCache ? 'read status cache: ' : ''}unknown storage ${goQuote(name)}`);
  }
}

/** Go's %q of a plain string (JSON quoting is the same for printable text). */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** Bad command-line usage (unknown flag, missing argument). */
export class UsageError extends WalgError {
  override readonly code = 'USAGE';
}

/** A setting is missing, malformed or contradicts another one. */
export class ConfigError extends WalgError {
  override readonly code = 'CONFIG';
}

/** The storage holds no object under the requested key. Every driver maps its own "not found" to this. */
export class ObjectNotFoundError extends WalgError {
  override readonly code = 'NOT_FOUND';
  readonly key: string;
  constructor(key: string, options?: { cause?: unknown }) {
    super(`object '${key}' not found in storage`, options); // compat: WAL-G's text (it names the full path)
    this.key = key;
  }
}

/**
 * compat: WAL-G's ArchiveNonExistenceError. wal-fetch exits 74 with it so that Postgres' restore_command
 * treats the file as "not archived" and recovery moves on.
 */
export class ArchiveNonExistenceError extends WalgError {
  override readonly code = 'ARCHIVE_NOT_FOUND';
  constructor(name: string, options?: { cause?: unknown }) {
    super(`Archive '${name}' does not exist.`, options);
  }
}

/** A storage call failed (network, permissions, server error) after retries. */
export class StorageError extends WalgError {
  override readonly code = 'STORAGE';
  /** True when a retry could help (timeouts, 5xx, throttling). Drivers set it; the retry wrapper reads it. */
  readonly transient: boolean;
  constructor(message: string, options?: { cause?: unknown; transient?: boolean }) {
    super(message, options);
    this.transient = options?.transient ?? false;
  }
}

/** Stored bytes failed an integrity check: bad magic, checksum mismatch, truncated stream. */
export class CorruptObjectError extends WalgError {
  override readonly code = 'CORRUPT';
}

/** Decryption failed: wrong key, missing private key, or tampered ciphertext. */
export class DecryptionError extends WalgError {
  override readonly code = 'DECRYPT';
}

/** A local file operation was refused on purpose (existing destination, path escaping the target). */
export class LocalFileError extends WalgError {
  override readonly code = 'LOCAL_FILE';
}

/** wal-push found a different object already archived under the same name. */
export class OverwriteRefusedError extends WalgError {
  override readonly code = 'OVERWRITE_REFUSED';
}

/** A backup in storage is of a kind this tool cannot restore yet (e.g. a MySQL incremental): refused, never half-done. */
export class UnsupportedBackupError extends WalgError {
  override readonly code = 'UNSUPPORTED_BACKUP';
}

/** A mode of a command that WAL-G has and this build does not yet (e.g. remote backup-push): refused before any work. */
export class UnsupportedFeatureError extends WalgError {
  override readonly code = 'UNSUPPORTED_FEATURE';
}

/** The operation was cancelled (SIGINT/SIGTERM or an AbortSignal). */
export class CancelledError extends WalgError {
  override readonly code = 'CANCELLED';
}

/**
 * A failure the command has already reported in its own words (compat: walg-daemon-client writes Go's `log` lines,
 * not WAL-G's log format). The entry point prints nothing more and exits with the code of `cause`.
 */
export class ReportedError extends WalgError {
  override readonly code = 'REPORTED';
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/** compat: Go's text of a failed file operation's cause (`no such file or directory`), else the Node code. */
export function goErrnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const texts: Record<string, string> = { ENOENT: 'no such file or directory', EACCES: 'permission denied', EISDIR: 'is a directory', ENOTDIR: 'not a directory' };
  return (code && texts[code]) ?? code ?? 'error';
}

/** A short, one-line description of any thrown value, for the final ERROR log line. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const msg = err.message.split('\n')[0] ?? '';
    // Wrapped errors: show the chain "outer: inner" so the root cause is visible on one line.
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error && !msg.includes(cause.message.split('\n')[0] ?? '')) {
      return `${msg}: ${describeError(cause)}`;
    }
    return msg;
  }
  return String(err);
}

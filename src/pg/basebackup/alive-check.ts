// backup-push's alive check (WALG_ALIVE_CHECK_INTERVAL): pings the server while the backup runs, so that a server
// that died mid-backup stops the upload now instead of after the whole walk (compat: addPgIsAliveChecker).

import { log } from '../../core/log.ts';
import { PostgresError } from '../postgres-client.ts';
import type { BackupDatabase } from '../postgres-client.ts';

/**
 * Pings `db` every `intervalMs` (no overlapping pings) and calls `onFailure` with a PostgresError on the first ping
 * that fails; after that it stops pinging. Returns the function that stops the check (call it in a `finally`).
 * An interval of 0 or less turns the check off (nothing is logged, the returned function does nothing). The timer
 * never keeps the process alive on its own.
 */
export function startAliveCheck(db: Pick<BackupDatabase, 'ping'>, intervalMs: number, onFailure: (err: PostgresError) => void): () => void {
  if (!(intervalMs > 0)) return () => {};
  log.info(`Initializing the PG alive checker (interval=${intervalMs / 1000}s)...`);
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    db.ping().then(() => { checking = false; }, (err: Error) => {
      // `checking` stays set: one failure is reported once.
      const e = new PostgresError(`PG alive check failed: ${err.message}`, { cause: err });
      log.error(`Error: ${e.message}, gracefully stopping the running backup...`);
      onFailure(e);
    });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

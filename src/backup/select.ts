// Choosing a backup by name, LATEST or UserData (compat: internal/backup_selector.go), shared by backup-fetch and
// the delta-base choice of backup-push.

import { UsageError, WalgError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import type { Storage } from '../storage/types.ts';
import { parseJsonExact } from './json.ts';
import { listBackups, readMetadata, readSentinel, resolveBackup } from './sentinel.ts';

/** JSON value in a canonical form (sorted keys, exact integers) for UserData equality. */
export function canonicalJson(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/** Chooses the backup: by name, LATEST (newest sentinel LastModified) or UserData (compat: internal/backup_selector.go). */
export async function selectBackup(storage: Storage, name: string | undefined, userDataRaw: string | undefined): Promise<string> {
  if (name && userDataRaw) throw new UsageError('incorrect arguments. Specify target backup name OR target userdata, not both');
  if (name === 'LATEST') {
    log.info('Selecting the latest backup...');
    const ref = await resolveBackup(storage, 'LATEST');
    log.info(`LATEST backup is: '${ref.name}'`);
    return ref.name;
  }
  if (name) {
    log.info(`Selecting the backup with name ${name}...`);
    return (await resolveBackup(storage, name)).name;
  }
  if (!userDataRaw) throw new UsageError('insufficient arguments');
  log.info('Selecting the backup with the specified user data...');
  let wanted: string;
  try { wanted = canonicalJson(parseJsonExact(userDataRaw)); } catch (err) {
    throw new UsageError(`failed to read the user data as a JSON object: ${(err as Error).message}`);
  }
  const found: string[] = [];
  for (const b of await listBackups(storage)) {
    let ud: unknown;
    try {
      const meta = await readMetadata(storage, b.name);
      ud = meta ? meta.user_data : (await readSentinel(storage, b.name)).UserData;
    } catch (err) {
      log.warn(`Failed to get metadata of backup ${b.name}, error: ${(err as Error).message}`);
      continue;
    }
    if (canonicalJson(ud ?? null) === wanted) found.push(b.name);
  }
  if (found.length === 0) throw new WalgError('No backups found');
  if (found.length > 1) throw new WalgError(`too many backups (${found.length}) found with specified user data: ${found.join(' ')}`);
  return found[0]!;
}

// Shared output of `st ls` and `st stat`: WAL-G's tab-aligned table "type size last modified name".

import type { ListEntry } from '../../storage/types.ts';
import { tabwriter } from '../render/table.ts';
import { goTimeString } from '../render/time.ts';

/** Renders entries with names relative to `base` (a folder prefix ending in '/' or ''), of a `storageType` storage. */
export function renderListing(entries: ListEntry[], base: string, storageType?: string): string {
  const rows: string[][] = [['type', 'size', 'last modified', 'name']];
  for (const e of entries) {
    let name = e.key.startsWith(base) ? e.key.slice(base.length) : e.key;
    // compat: WAL-G's SSH storage names a sub-folder by what its path has beyond the listed folder's, both paths
    // without a trailing '/': "/name", where the other storages print "name/".
    if (e.type === 'dir' && storageType === 'ssh') name = `/${name.replace(/\/$/, '')}`;
    // compat: WAL-G prints two more (usually empty) cells: version id and additional info.
    rows.push([e.type, String(e.size), goTimeString(e.lastModified, e.lastModifiedNs, e.zoneName), name, '', '']);
  }
  return tabwriter(rows);
}

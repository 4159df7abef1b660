// Glob expansion for `st -g`: lists from the pattern's static folder and matches keys with path.matchesGlob.

import { posix } from 'node:path';
import type { Storage } from '../../storage/types.ts';

/** The longest folder prefix of a pattern that holds no glob characters ('' or ending in '/'). */
export function staticPrefix(pattern: string): string {
  const firstMeta = pattern.search(/[*?[{]/);
  const head = firstMeta < 0 ? pattern : pattern.slice(0, firstMeta);
  const slash = head.lastIndexOf('/');
  return slash < 0 ? '' : head.slice(0, slash + 1);
}

/** Object keys matching a glob pattern (sorted). */
export async function globKeys(storage: Storage, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  const p = pattern.replace(/^\/+/, '');
  for await (const e of storage.list(staticPrefix(p), { recursive: true })) {
    if (posix.matchesGlob(e.key, p)) keys.push(e.key);
  }
  return keys.sort();
}

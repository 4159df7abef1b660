// Lists a directory tree the way `find <base>` prints it, without running find, so the unit tests that check
// "nothing was written outside the target" need no program besides node.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `base` followed by every path below it, depth first in directory order, as `find <base>` lists them: symbolic
 * links are listed but never followed.
 */
export function listTree(base: string): string[] {
  const out = [base];
  for (const e of readdirSync(base, { withFileTypes: true })) {
    const p = join(base, e.name);
    if (e.isDirectory()) out.push(...listTree(p));
    else out.push(p);
  }
  return out;
}

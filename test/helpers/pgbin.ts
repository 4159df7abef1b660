// Finds the PostgreSQL server binaries for tests, benches and the demo: the one helper that decides PG_BIN.
// PG_BIN from the environment wins; otherwise the newest major version installed under /usr/lib/postgresql (Debian
// and Ubuntu layout) that has initdb. scripts/install-system-deps.sh installs the distribution's default major
// (15 on Debian 12, 16 on Ubuntu 24.04), so on a machine set up by it this is that version.
// Run as a script, it prints the directory (scripts/demo.sh uses that).

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where Debian-family packages put each major version's binaries: <root>/<major>/bin. */
export const PG_LIB_ROOT = '/usr/lib/postgresql';

/** The chosen server binaries: their directory and the major version (undefined when PG_BIN names a custom path). */
export interface PgBin { bin: string; major: number | undefined; found: boolean }

/**
 * Picks the server binaries: `env.PG_BIN` when set, else the highest numeric `<root>/<major>/bin` holding initdb.
 * When nothing is installed, `found` is false and `bin` names the directory the distribution default would use.
 */
export function findPgBin(env: Record<string, string | undefined> = process.env, root = PG_LIB_ROOT, exists: (p: string) => boolean = existsSync): PgBin {
  if (env.PG_BIN) {
    const m = /\/(\d+)\/bin\/?$/.exec(env.PG_BIN);
    return { bin: env.PG_BIN, major: m ? Number(m[1]) : undefined, found: exists(join(env.PG_BIN, 'initdb')) };
  }
  let majors: number[] = [];
  try {
    majors = readdirSync(root).filter((d) => /^\d+$/.test(d)).map(Number).sort((a, b) => b - a);
  } catch { /* no PostgreSQL installed at all */ }
  for (const major of majors) {
    const bin = join(root, String(major), 'bin');
    if (exists(join(bin, 'initdb'))) return { bin, major, found: true };
  }
  return { bin: join(root, '15', 'bin'), major: 15, found: false };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const pg = findPgBin();
  if (!pg.found) {
    process.stderr.write(`PostgreSQL server binaries not found (looked for PG_BIN, then ${PG_LIB_ROOT}/<major>/bin/initdb): run 'make system-deps'\n`);
    process.exit(1);
  }
  process.stdout.write(`${pg.bin}\n`);
}

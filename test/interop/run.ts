// `make test-interop`: runs test/interop/*.test.ts against the reference WAL-G v3.0.9 binaries named by
// WALG_REFERENCE_PG and WALG_REFERENCE_MYSQL (cases that need WALG_REFERENCE_REDIS, redis.test.ts, skip themselves
// without it). Without the first two it prints one line saying it was skipped and why, and exits 0, so the target is safe to run anywhere. The binaries are built outside this tree (docs/compat.md).

import { spawnSync } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const missing = ['WALG_REFERENCE_PG', 'WALG_REFERENCE_MYSQL'].filter((v) => {
  const p = process.env[v];
  if (!p) return true;
  try { accessSync(p, constants.X_OK); return false; } catch { return true; }
});
if (missing.length > 0) {
  process.stdout.write(`interop: skipped: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set to an executable WAL-G v3.0.9 binary (see docs/compat.md)\n`);
  process.exit(0);
}
const files = readdirSync(here).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join(here, f));
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=1200000', ...process.argv.slice(2), ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);

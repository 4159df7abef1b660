// Loads the heavy, rarely needed libraries (AWS SDK, openpgp, pg, YAML/TOML parsers) that the build keeps out of the
// main bundle: each is a separate CommonJS chunk embedded in dist/wal-g, compiled only when a command imports it,
// with a V8 code cache kept per user so repeated runs (one wal-push per WAL segment) skip compilation.

import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { seaApi } from './native.ts';
import { log } from './log.ts';

const loaded = new Map<string, Record<string, unknown>>();


/**
 * Returns the exports object of chunk `name` (a map from package name to that package's exports).
 * Only used by the bundled build; from source, packages are imported directly.
 */
export function loadChunk(name: string): Record<string, unknown> {
  const hit = loaded.get(name);
  if (hit) return hit;
  const sea = seaApi();
  const file = `chunk-${name}.cjs`;
  // Named at DEVEL so that a test of the artefact can see which chunks a command loaded (test/integration/storage-lazy).
  log.debug(`loading lazy chunk '${name}'`);
  const code = sea ? sea.getAsset(file, 'utf8') : readFileSync(join(dirname(process.argv[1] ?? '.'), 'chunks', file), 'utf8');
  const digest = createHash('sha256').update(code).digest('hex').slice(0, 16);
  const cacheDir = join(tmpdir(), `wal-g-code-cache-${process.getuid?.() ?? 'u'}`);
  const cacheFile = join(cacheDir, `${name}-${process.version}-${digest}.bin`);
  let cachedData: Buffer | undefined;
  try { cachedData = readFileSync(cacheFile); } catch { /* first run: compile from source */ }
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${code}\n})`, { filename: `wal-g:${file}`, cachedData });
  const fn = script.runInThisContext() as (e: unknown, r: NodeJS.Require, m: { exports: unknown }, f: string, d: string) => void;
  const mod = { exports: {} as Record<string, unknown> };
  // Chunks are self-contained bundles: their require() only ever asks for Node built-ins.
  fn(mod.exports, createRequire(process.execPath), mod, file, '.');
  if (!cachedData || script.cachedDataRejected) {
    try {
      mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cacheFile); // atomic: concurrent processes never read a partial cache file
    } catch { /* no writable temp dir: run without a cache */ }
  }
  loaded.set(name, mod.exports);
  return mod.exports;
}

// Builds dist/wal-g: esbuild bundles the CLI into one CommonJS file, then Node's single-executable support
// injects it (with a V8 code cache) and the native addons (as assets) into a copy of the pinned node binary.
// usage: node scripts/build.ts [--bundle-only]

import { build } from 'esbuild';
import type { Plugin } from 'esbuild';
import { mkdirSync, writeFileSync, rmSync, chmodSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NATIVE_ADDONS } from '../src/core/native.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const require = createRequire(join(root, 'package.json'));
const nativeModule = join(root, 'src/core/native.ts');

// Packages that find their own .node file at run time are pointed at loadNative() instead,
// which reads the addon from the executable's assets.
const nativeAliases: Plugin = {
  name: 'native-aliases',
  setup(b) {
    b.onResolve({ filter: /^node-gyp-build$/ }, (args) => {
      if (args.importer.includes('lzma-native')) return { path: 'lzma', namespace: 'walg-native' };
      return undefined;
    });
    b.onResolve({ filter: /^require-addon$/ }, (args) => {
      if (args.importer.includes('sodium-native')) return { path: 'sodium', namespace: 'walg-native' };
      return undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'walg-native' }, (args) => {
      const name = args.path;
      // node-gyp-build is called as fn(dir); require-addon as fn(path, base): both just return the binding.
      return {
        contents: `const { loadNative } = require(${JSON.stringify(nativeModule)}); module.exports = function () { return loadNative(${JSON.stringify(name)}); };`,
        loader: 'js',
        resolveDir: root,
      };
    });
  },
};

async function main(): Promise<void> {
  const bundleOnly = process.argv.includes('--bundle-only');
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });
  const bundle = join(dist, 'wal-g.cjs');
  await build({
    entryPoints: [join(root, 'src/cli/entry.ts')],
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    outfile: bundle,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [nativeAliases],
    // import.meta.url has no CommonJS meaning; give modules that use it (createRequire) the bundle's own URL.
    define: { 'import.meta.url': '__walg_import_meta_url' },
    banner: { js: 'const __walg_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
  });
  if (bundleOnly) return;

  const assets: Record<string, string> = {};
  for (const [name, rel] of Object.entries(NATIVE_ADDONS)) assets[`${name}.node`] = require.resolve(rel);
  const nodeBin = process.execPath;
  const seaConfig = join(dist, 'sea-config.json');
  writeFileSync(seaConfig, JSON.stringify({
    main: bundle,
    output: join(dist, 'wal-g'),
    executable: nodeBin,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    useSnapshot: false,
    assets,
  }, null, 2));
  execFileSync(nodeBin, ['--build-sea', seaConfig], { stdio: 'inherit' });
  chmodSync(join(dist, 'wal-g'), 0o755);
  const mb = (statSync(join(dist, 'wal-g')).size / 1e6).toFixed(0);
  process.stdout.write(`built dist/wal-g (${mb} MB) with node ${process.version}\n`);
}

await main();

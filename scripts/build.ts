// Builds dist/wal-g: esbuild bundles the CLI into one CommonJS file, then Node's single-executable support
// injects it (with a V8 code cache) and the native addons (as assets) into a copy of the pinned node binary.
// With a V8 startup snapshot (default), the bundle's entry evaluates the wal-push / wal-fetch modules at build time
// (src/cli/entry.ts) and every run starts from that heap; --no-snapshot builds with a V8 code cache instead.
// usage: node scripts/build.ts [--bundle-only] [--no-snapshot]

import { build } from 'esbuild';
import type { Metafile, Plugin } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync, rmSync, chmodSync, statSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NATIVE_ADDONS, addonDigest } from '../src/core/native.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const require = createRequire(join(root, 'package.json'));
const nativeModule = join(root, 'src/core/native.ts');
const chunkModule = join(root, 'src/core/chunks.ts');

/**
 * Heavy libraries only some commands need, built as separate chunks (embedded as SEA assets) so that the
 * main bundle, which every wal-push and wal-fetch loads, stays small. Chunk name -> packages it exports.
 */
export const LAZY_CHUNKS: Record<string, string[]> = {
  aws: ['@aws-sdk/client-s3'],
  openpgp: ['openpgp'],
  pg: ['pg'],
  yaml: ['yaml'],
  toml: ['smol-toml'],
  gcs: ['@google-cloud/storage'],
  azure: ['@azure/storage-blob'],
  ssh: ['ssh2'],
  mysql: ['mysql2/promise'],
};
const chunkOf = new Map<string, string>();
for (const [chunk, pkgs] of Object.entries(LAZY_CHUNKS)) for (const p of pkgs) chunkOf.set(p, chunk);

// In the main bundle, each lazy package resolves to a stub that asks loadChunk() for it at run time.
const lazyChunks: Plugin = {
  name: 'lazy-chunks',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.namespace === 'walg-chunk' || !chunkOf.has(args.path)) return undefined;
      return { path: args.path, namespace: 'walg-chunk' };
    });
    b.onLoad({ filter: /.*/, namespace: 'walg-chunk' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(chunkModule)}).loadChunk(${JSON.stringify(chunkOf.get(args.path))})[${JSON.stringify(args.path)}];`,
      loader: 'js',
      resolveDir: root,
    }));
  },
};

// Packages that find their own .node file at run time are pointed at loadNative() instead,
// which reads the addon from the executable's assets.
const nativeAliases: Plugin = {
  name: 'native-aliases',
  setup(b) {
    b.onResolve({ filter: /^require-addon$/ }, (args) => {
      if (args.importer.includes('sodium-native')) return { path: 'sodium', namespace: 'walg-native' };
      return undefined;
    });
    // ssh2's optional accelerators (sshcrypto, cpu-features) are loaded in try/catch with a pure-JS fallback:
    // leave them out of the executable rather than ship more native code.
    b.onResolve({ filter: /\.node$/ }, (args) => ({ path: args.path, namespace: 'walg-no-native' }));
    b.onLoad({ filter: /.*/, namespace: 'walg-no-native' }, () => ({
      contents: 'throw new Error("optional native addon not bundled");',
      loader: 'js',
    }));
    b.onLoad({ filter: /.*/, namespace: 'walg-native' }, (args) => {
      const name = args.path;
      // require-addon is called as fn(path, base): it just returns the binding.
      return {
        contents: `const { loadNative } = require(${JSON.stringify(nativeModule)}); module.exports = function () { return loadNative(${JSON.stringify(name)}); };`,
        loader: 'js',
        resolveDir: root,
      };
    });
  },
};

// A Node single executable has no dynamic-import callback: an `import()` left in the bundle throws "A dynamic import
// callback was not specified" at run time (the same holds for chunks run through vm.Script). esbuild keeps
// `import('node:x')` of a built-in as a real import(); resolve it to a small CommonJS module that require()s the
// built-in instead, so esbuild turns the import() into a require.
export const builtinDynamicImports: Plugin = {
  name: 'builtin-dynamic-imports',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind !== 'dynamic-import' || !isBuiltin(args.path)) return undefined;
      return { path: args.path, namespace: 'walg-builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'walg-builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path.startsWith('node:') ? args.path : `node:${args.path}`)});`,
      loader: 'js',
    }));
  },
};

/**
 * Fails the build when an output still holds a dynamic import that the executable cannot resolve: an external
 * module reached by import() (esbuild's metafile records it), or an import() whose argument is not a literal
 * (esbuild leaves those as they are; they show as `import(` in the code). Returns the problems found, one per line.
 */
export function unresolvableDynamicImports(metafile: Metafile, code: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  for (const [out, info] of Object.entries(metafile.outputs)) {
    for (const imp of info.imports) {
      if (imp.kind === 'dynamic-import' && imp.external) problems.push(`${out}: import('${imp.path}') of an external module`);
    }
  }
  for (const [out, text] of code) {
    // A call, not a word in a string or a property name such as `x.import(`.
    const re = /(?<![\w$.'"`])import\(/g;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const line = text.slice(0, m.index).split('\n').length;
      problems.push(`${out}:${line}: ${text.slice(m.index, m.index + 60).split('\n')[0]}`);
    }
  }
  return problems;
}

/** Throws with every unresolvable dynamic import of `outputs` (bundle files just written) listed. */
function checkDynamicImports(metafile: Metafile | undefined, outputs: string[]): void {
  if (!metafile) throw new Error('build: esbuild returned no metafile');
  const code = new Map(outputs.map((f) => [f, readFileSync(f, 'utf8')] as const));
  const problems = unresolvableDynamicImports(metafile, code);
  if (problems.length > 0) {
    throw new Error(`build: the bundle holds dynamic imports a single executable cannot resolve:\n  ${problems.join('\n  ')}`);
  }
}

async function main(): Promise<void> {
  const bundleOnly = process.argv.includes('--bundle-only');
  const snapshot = !process.argv.includes('--no-snapshot');
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });
  const bundle = join(dist, 'wal-g.cjs');
  // Each addon's file: ours from build/ (make native), the others from their packages.
  const addons = Object.entries(NATIVE_ADDONS).map(([name, rel]) => [name, rel.startsWith('./') ? join(root, rel) : require.resolve(rel)] as const);
  const digests = Object.fromEntries(addons.map(([name, file]) => [name, addonDigest(readFileSync(file))]));
  const mainResult = await build({
    entryPoints: [join(root, 'src/cli/entry.ts')],
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    outfile: bundle,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [builtinDynamicImports, nativeAliases, lazyChunks],
    metafile: true,
    // Stack traces at WALG_LOG_LEVEL=DEVEL name src/ files through this map (src/core/stack.ts), embedded as an asset.
    sourcemap: 'external',
    sourcesContent: false,
    // import.meta.url has no CommonJS meaning; give modules that use it (createRequire) the bundle's own URL.
    define: { 'import.meta.url': '__walg_import_meta_url', __WALG_NATIVE_DIGESTS: JSON.stringify(digests) },
    banner: { js: 'const __walg_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
  });
  checkDynamicImports(mainResult.metafile, [bundle]);
  const assets: Record<string, string> = { 'wal-g.cjs.map': `${bundle}.map` };
  mkdirSync(join(dist, 'chunks'), { recursive: true });
  for (const [chunk, pkgs] of Object.entries(LAZY_CHUNKS)) {
    const out = join(dist, 'chunks', `chunk-${chunk}.cjs`);
    const chunkResult = await build({
      stdin: { contents: `module.exports = {${pkgs.map((p) => `${JSON.stringify(p)}: require(${JSON.stringify(p)})`).join(', ')}};`, resolveDir: root, loader: 'js' },
      bundle: true, platform: 'node', target: 'node24', format: 'cjs', outfile: out,
      minifySyntax: true, legalComments: 'none', logLevel: 'warning', plugins: [builtinDynamicImports, nativeAliases], metafile: true,
      define: { 'import.meta.url': '__walg_import_meta_url' },
      banner: { js: 'const __walg_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
    });
    checkDynamicImports(chunkResult.metafile, [out]);
    assets[`chunk-${chunk}.cjs`] = out;
  }
  if (bundleOnly) return;

  for (const [name, file] of addons) assets[`${name}.node`] = file;
  const nodeBin = process.execPath;
  const seaConfig = join(dist, 'sea-config.json');
  writeFileSync(seaConfig, JSON.stringify({
    main: bundle,
    output: join(dist, 'wal-g'),
    executable: nodeBin,
    disableExperimentalSEAWarning: true,
    // Node ignores the code cache with a snapshot: the snapshot already holds the compiled functions.
    useCodeCache: !snapshot,
    useSnapshot: snapshot,
    assets,
  }, null, 2));
  execFileSync(nodeBin, ['--build-sea', seaConfig], { stdio: 'inherit' });
  chmodSync(join(dist, 'wal-g'), 0o755);
  const mb = (statSync(join(dist, 'wal-g')).size / 1e6).toFixed(0);
  process.stdout.write(`built dist/wal-g (${mb} MB) with node ${process.version}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();

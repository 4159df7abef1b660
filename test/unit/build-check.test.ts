// scripts/build.ts rejects a bundle holding a dynamic import that a Node single executable cannot resolve (issue 12):
// import() of a built-in is rewritten to require(); anything else left as import() fails the build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { builtinDynamicImports, unresolvableDynamicImports } from '../../scripts/build.ts';

async function bundle(source: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'walg-build-check-'));
  try {
    writeFileSync(join(dir, 'entry.js'), source);
    const outfile = join(dir, 'out.cjs');
    const r = await build({ entryPoints: [join(dir, 'entry.js')], bundle: true, platform: 'node', format: 'cjs', outfile,
      metafile: true, logLevel: 'silent', external: ['some-external-package'], plugins: [builtinDynamicImports] });
    return unresolvableDynamicImports(r.metafile, new Map([[outfile, readFileSync(outfile, 'utf8')]]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('import() of a Node built-in is turned into require() and passes the check', async () => {
  assert.deepEqual(await bundle(`exports.f = async () => (await import('node:fs/promises')).open; exports.g = () => import('os');`), []);
});

test('a planted import() of an external module fails the check', async () => {
  const problems = await bundle(`exports.f = () => import('some-external-package');`);
  assert.ok(problems.some((p) => p.includes("import('some-external-package') of an external module")), problems.join('\n'));
});

test('a planted import() with a computed argument fails the check', async () => {
  const problems = await bundle(`exports.f = (name) => import(name); exports.m = (o) => o.import("not a dynamic import");`);
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0]!, /out\.cjs:\d+: import\(name\)/);
});

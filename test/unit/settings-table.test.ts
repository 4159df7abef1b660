// Keeps the settings table true: every setting is read somewhere in src/, or marked `external` (read from the
// environment by a library or child process), or marked `inert` (accepted but not acted on, which warns); and
// nothing marked inert is read after all. The sources are scanned with the TypeScript parser, so comments and
// messages that merely mention a name do not count as reading it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { SETTINGS } from '../../src/config/settings.ts';
import type { SettingDef } from '../../src/config/settings.ts';

const SRC = join(import.meta.dirname, '../../src');
const TABLE = 'config/settings.ts';

function* sourceFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sourceFiles(p);
    else if (e.name.endsWith('.ts')) yield p;
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Where each name is read, outside the table: string literals equal to it, property accesses (env.PGHOST), and
 * templates such as `WALG_${type}_PREFIX` (at least two literal parts, so `WALG_${name}` matches nothing).
 */
function readers(): (name: string) => string[] {
  const exact = new Map<string, Set<string>>();
  const patterns: Array<{ re: RegExp; file: string }> = [];
  for (const path of sourceFiles(SRC)) {
    const file = relative(SRC, path);
    if (file === TABLE) continue;
    const add = (text: string) => { if (!exact.has(text)) exact.set(text, new Set()); exact.get(text)!.add(file); };
    const visit = (n: ts.Node): void => {
      if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) add(n.text);
      else if (ts.isPropertyAccessExpression(n)) add(n.name.text);
      else if (ts.isTemplateExpression(n)) {
        const parts = [n.head.text, ...n.templateSpans.map((s) => s.literal.text)];
        if (parts.filter((p) => p !== '').length >= 2) patterns.push({ re: new RegExp(`^${parts.map(escape).join('[A-Z0-9_]+')}$`), file });
      }
      ts.forEachChild(n, visit);
    };
    visit(ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, false));
  }
  return (name) => [...(exact.get(name) ?? []), ...patterns.filter((p) => p.re.test(name)).map((p) => p.file)];
}

const table = SETTINGS as readonly SettingDef[];
const readIn = readers();

test('every setting in the table is read in src/, read by a library (external), or marked inert', () => {
  const silent = table.filter((d) => d.inert === undefined && d.external === undefined && readIn(d.name).length === 0).map((d) => d.name);
  assert.deepEqual(silent, [], 'these settings are neither read nor marked inert or external in src/config/settings.ts');
});

test('no setting marked inert or external is read in src/ after all', () => {
  const wrong = table.filter((d) => (d.inert !== undefined || d.external !== undefined) && readIn(d.name).length > 0)
    .map((d) => `${d.name} (read in ${readIn(d.name).join(', ')})`);
  assert.deepEqual(wrong, [], 'unmark these in src/config/settings.ts: they are acted on');
});

test('inert marks are well-formed', () => {
  for (const d of table) {
    if (d.inert !== undefined) assert.ok(d.inert.length > 0 && d.external === undefined, d.name);
    if (d.inertUnless !== undefined) assert.ok(d.inert !== undefined && table.some((o) => o.name === d.inertUnless), d.name);
  }
});

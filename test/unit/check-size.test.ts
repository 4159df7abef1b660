// scripts/check-size.ts: which files and functions break the size limits, and the names an allowlist entry uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSource, MAX_FILE_LINES, MAX_FUNCTION_LINES } from '../../scripts/check-size.ts';

const body = (n: number) => Array.from({ length: n }, (_, i) => `  x += ${i};`).join('\n');

test('a file over the line limit is reported once, a file at the limit is not', () => {
  const at = Array.from({ length: MAX_FILE_LINES }, (_, i) => `export const a${i} = ${i};`).join('\n') + '\n';
  assert.deepEqual(checkSource('src/a.ts', at), []);
  const over = at + 'export const b = 1;\n';
  assert.deepEqual(checkSource('src/a.ts', over).map((v) => [v.key, v.kind, v.lines]), [['src/a.ts', 'file', MAX_FILE_LINES + 1]]);
});

test('every kind of function with a body is measured, named as the allowlist names it', () => {
  const long = body(MAX_FUNCTION_LINES); // + 2 lines of braces: over the limit
  const text = [
    '/** a doc comment does not count */',
    `export function decl(): void {\n  let x = 0;\n${long}\n}`,
    `class K {\n  constructor() {\n    let x = 0;\n${long}\n  }\n  m(): void {\n    let x = 0;\n${long}\n  }\n  f = () => {\n    let x = 0;\n${long}\n  };\n}`,
    `const arrow = async () => {\n  let x = 0;\n${long}\n};`,
    `const o = { p: function () {\n  let x = 0;\n${long}\n} };`,
    `export function overload(a: string): void;\nexport function overload(a: unknown): void {}`,
    `export const short = (a: number) => a + 1;`,
  ].join('\n');
  const found = checkSource('src/f.ts', text).filter((v) => v.kind === 'function');
  assert.deepEqual(found.map((v) => v.key), ['src/f.ts#decl', 'src/f.ts#K.constructor', 'src/f.ts#K.m', 'src/f.ts#K.f', 'src/f.ts#arrow', 'src/f.ts#p']);
  assert.ok(found.every((v) => v.lines > MAX_FUNCTION_LINES && v.limit === MAX_FUNCTION_LINES));
  assert.equal(found[0]!.line, 2, 'starts at the function, not its doc comment');
});

test('a function of exactly the limit passes', () => {
  const text = `function f(): void {\n${body(MAX_FUNCTION_LINES - 2)}\n}\n`;
  assert.deepEqual(checkSource('src/g.ts', text), []);
});

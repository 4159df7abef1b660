// Size limits of the sources (issue 13): no TypeScript file in src/ over 500 lines, no function over 120 lines.
// Functions are found with the TypeScript compiler API: function declarations, methods, constructors, accessors,
// function expressions and arrow functions that have a body. A function's length runs from the line of its first
// token to the line of its closing token, so its leading doc comment does not count. The exceptions are listed in
// ALLOWLIST below, each with its reason (docs/architecture.md repeats them); src/native/*.c is C and not checked.
// Usage: node scripts/check-size.ts [--verbose]. Exits 1 when a limit is broken outside the allowlist.

import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Longest allowed source file, in lines. */
export const MAX_FILE_LINES = 500;
/** Longest allowed function, in lines. */
export const MAX_FUNCTION_LINES = 120;

/**
 * Exceptions: `src/<path>.ts` for a whole file over MAX_FILE_LINES, `src/<path>.ts#<function>` for one function
 * over MAX_FUNCTION_LINES (the name as this script prints it). Every entry says why it may stay large.
 */
export const ALLOWLIST: Record<string, string> = {
};

/** One limit broken. */
export interface SizeViolation {
  /** `src/<path>.ts` or `src/<path>.ts#<function>`: the key an allowlist entry would use. */
  key: string;
  kind: 'file' | 'function';
  lines: number;
  limit: number;
  /** 1-based line where the file or function starts. */
  line: number;
}

/** The name a function is reported under: its own name, Class.method, the variable or property it is assigned to. */
function functionName(node: ts.FunctionLikeDeclaration, sf: ts.SourceFile): string {
  const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  const own = node.name && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name) || ts.isPrivateIdentifier(node.name)) ? node.name.text : undefined;
  let base = own;
  if (ts.isConstructorDeclaration(node)) base = 'constructor';
  if (!base) {
    const parent = node.parent;
    if (ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) base = parent.name.text;
    else if (ts.isPropertyAssignment(parent) && (ts.isIdentifier(parent.name) || ts.isStringLiteral(parent.name))) base = parent.name.text;
    else if (ts.isPropertyDeclaration(parent) && ts.isIdentifier(parent.name)) base = parent.name.text;
  }
  if (!base) return `<anonymous>@${line}`;
  // Methods and class fields are named after their class, so two classes' `write` stay apart.
  let holder: ts.Node | undefined = node.parent;
  if (holder && ts.isPropertyDeclaration(holder)) holder = holder.parent;
  if (holder && (ts.isClassDeclaration(holder) || ts.isClassExpression(holder)) && holder.name) return `${holder.name.text}.${base}`;
  return base;
}

/** Lines of `text` as an editor counts them (a final newline does not start another line). */
function lineCount(text: string): number {
  if (text.length === 0) return 0;
  const n = text.split('\n').length;
  return text.endsWith('\n') ? n - 1 : n;
}

/** Every size violation in one file, allowlisted or not. `file` is relative to the repository root. */
export function checkSource(file: string, text: string): SizeViolation[] {
  const out: SizeViolation[] = [];
  const total = lineCount(text);
  if (total > MAX_FILE_LINES) out.push({ key: file, kind: 'file', lines: total, limit: MAX_FILE_LINES, line: 1 });
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const seen = new Map<string, number>();
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const fn = node as ts.FunctionLikeDeclaration;
      const start = sf.getLineAndCharacterOfPosition(fn.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(fn.getEnd()).line;
      const lines = end - start + 1;
      if (lines > MAX_FUNCTION_LINES) {
        let name = functionName(fn, sf);
        // Two long functions of the same name in one file (overloaded helpers, nested closures) get #2, #3 …
        const n = (seen.get(name) ?? 0) + 1;
        seen.set(name, n);
        if (n > 1) name = `${name}#${n}`;
        out.push({ key: `${file}#${name}`, kind: 'function', lines, limit: MAX_FUNCTION_LINES, line: start + 1 });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The .ts files under `dir` (recursively), sorted, as paths relative to `root`. */
function tsFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const rel = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(root, rel));
    else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out.sort();
}

/** Checks every TypeScript file of `root`/src; returns the violations split by whether the allowlist covers them. */
export function checkTree(root: string): { failures: SizeViolation[]; allowed: SizeViolation[]; stale: string[] } {
  const all = tsFiles(root, 'src').flatMap((f) => checkSource(f, readFileSync(join(root, f), 'utf8')));
  const failures = all.filter((v) => !(v.key in ALLOWLIST));
  const allowed = all.filter((v) => v.key in ALLOWLIST);
  const hit = new Set(allowed.map((v) => v.key));
  const stale = Object.keys(ALLOWLIST).filter((k) => !hit.has(k));
  return { failures, allowed, stale };
}

function main(): void {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const verbose = process.argv.includes('--verbose');
  const { failures, allowed, stale } = checkTree(root);
  // path:line first, so editors and terminals can jump there; the key is what an allowlist entry would use.
  const show = (v: SizeViolation) => v.kind === 'file'
    ? `  ${v.key}: ${v.lines} lines > ${v.limit}`
    : `  ${v.key.split('#')[0]}:${v.line} ${v.key.slice(v.key.indexOf('#') + 1)}(): ${v.lines} lines > ${v.limit} [${v.key}]`;
  if (verbose || allowed.length > 0) {
    for (const v of allowed) console.log(`allowed: ${show(v).trim()} (${ALLOWLIST[v.key]})`);
  }
  // An entry nothing needs any more is reported but does not fail: files are being split while the list lags.
  for (const k of stale) console.log(`stale allowlist entry (remove it from scripts/check-size.ts): ${k}`);
  if (failures.length === 0) {
    console.log(`check-size: OK (files <= ${MAX_FILE_LINES} lines, functions <= ${MAX_FUNCTION_LINES} lines; ${allowed.length} allowlisted)`);
    return;
  }
  console.error(`check-size: ${failures.length} over the limits (files <= ${MAX_FILE_LINES} lines, functions <= ${MAX_FUNCTION_LINES} lines):`);
  for (const v of failures.filter((f) => f.kind === 'file')) console.error(show(v));
  for (const v of failures.filter((f) => f.kind === 'function')) console.error(show(v));
  process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();

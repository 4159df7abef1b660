// Runs the wal-g CLI as a child process for tests: the artefact users install, dist/wal-g (make test builds it
// first), unless the development switch WALG_TEST_FROM_SOURCE=1 asks for bin/wal-g (the TypeScript sources).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const NODE = join(ROOT, 'node_modules/.bin/node');
export const SOURCE_BIN = join(ROOT, 'bin/wal-g');
export const DIST_BIN = join(ROOT, 'dist/wal-g');

/** The development switch: set to 1 to run the tool from the sources instead of the artefact. */
export const FROM_SOURCE_SWITCH = 'WALG_TEST_FROM_SOURCE';

/**
 * The executable the tests run for `env`: dist/wal-g, or bin/wal-g only when the development switch is 1, or the
 * copy WALG_TEST_BIN names (a private copy of dist/, so that a rebuild during a long run does not pull the binary
 * away from under the tests).
 */
export function toolBin(env: Record<string, string | undefined> = process.env): string {
  if (env.WALG_TEST_BIN) return env.WALG_TEST_BIN;
  return env[FROM_SOURCE_SWITCH] === '1' ? SOURCE_BIN : DIST_BIN;
}

/** What every integration test spawns (archive_command, restore_command, the daemon, the CLI). */
export const WALG_BIN = toolBin();

export interface RunResult { code: number; stdout: Buffer; stderr: string }

/** Minimal environment for a child: PATH and HOME only, plus what the test passes. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...extra };
}

/** Runs `bin args` with `env` (not merged with process.env) and optional stdin bytes. */
export function runBin(bin: string, args: string[], env: Record<string, string>, input?: Buffer | NodeJS.ReadableStream): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
    if (input === undefined) child.stdin.end();
    else if (Buffer.isBuffer(input)) child.stdin.end(input);
    else input.pipe(child.stdin);
  });
}

/** Runs the tool (WALG_BIN) with `args` and `env` (not merged with process.env). */
export function walg(args: string[], env: Record<string, string>, input?: Buffer | NodeJS.ReadableStream): Promise<RunResult> {
  return runBin(WALG_BIN, args, env, input);
}

/** Path of dist/wal-g, building it first when it is missing (make test builds it before the tests). */
export function ensureDist(): string {
  if (!existsSync(DIST_BIN)) execFileSync(NODE, [join(ROOT, 'scripts/build.ts')], { cwd: ROOT, stdio: 'inherit' });
  return DIST_BIN;
}

/** Asserts the WAL-G log line shape on every non-empty stderr line. */
export const LOG_LINE = /^(INFO|WARNING|ERROR|DEBUG): \d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}\.\d{6} \S/;

// Shared by the interop suite (test/interop/, `make test-interop`): the two tools under test, ours (dist/wal-g, or
// bin/wal-g with WALG_TEST_FROM_SOURCE=1) and the reference WAL-G v3.0.9 binaries built outside this tree and named
// by WALG_REFERENCE_PG / WALG_REFERENCE_MYSQL / WALG_REFERENCE_REDIS. Nothing here builds or ships WAL-G.

import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { WALG_BIN, baseEnv, runBin } from '../helpers/cli.ts';
import type { RunResult } from '../helpers/cli.ts';
import { writeUserFile } from '../servers/postgres.ts';

/** One tool of a pair: a label for messages and the PostgreSQL-flavour binary. */
export interface Tool { name: 'ours' | 'walg'; bin: string }

/** The reference binaries, when configured. */
export const REFERENCE = {
  pg: process.env.WALG_REFERENCE_PG,
  mysql: process.env.WALG_REFERENCE_MYSQL,
  redis: process.env.WALG_REFERENCE_REDIS,
  daemonClient: process.env.WALG_REFERENCE_DAEMON_CLIENT,
};

export const OURS: Tool = { name: 'ours', bin: WALG_BIN };
/** WAL-G's PostgreSQL binary; only valid when REFERENCE.pg is set (the suite skips otherwise). */
export const WALG: Tool = { name: 'walg', bin: REFERENCE.pg ?? '/nonexistent/wal-g-reference' };

/** Both directions: [writer, reader]. */
export const DIRECTIONS: ReadonlyArray<readonly [Tool, Tool]> = [[WALG, OURS], [OURS, WALG]];

/** A settings file both tools read with --config, readable by the cluster user (archive_command runs as it). */
export function writeConfig(dir: string, settings: Record<string, string>, name = 'walg.json'): string {
  const cfg = join(dir, name);
  writeUserFile(cfg, JSON.stringify(settings, null, 2));
  chmodSync(cfg, 0o644);
  return cfg;
}

/** Runs `tool args --config cfg` with `env` (PATH and HOME added); never throws on a non-zero exit. */
export async function run(tool: Tool, cfg: string, args: string[], env: Record<string, string> = {}): Promise<RunResult & { out: string }> {
  const r = await runBin(tool.bin, [...args, '--config', cfg], baseEnv(env));
  return { ...r, out: r.stdout.toString() };
}

/** Like run() but asserts exit 0, naming the tool and command in the failure. */
export async function ok(tool: Tool, cfg: string, args: string[], env: Record<string, string> = {}): Promise<RunResult & { out: string }> {
  const r = await run(tool, cfg, args, env);
  assert.equal(r.code, 0, `${tool.name} ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r;
}

/** The name a backup-push announced (WAL-G: "Wrote backup with name base_... to storage default"). */
export function pushedName(stderr: string): string {
  const m = /Wrote backup with name (base_\S+)/.exec(stderr);
  assert.ok(m, `no backup name in:\n${stderr}`);
  return m[1]!;
}

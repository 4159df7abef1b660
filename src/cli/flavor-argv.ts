// Which command tree runs: WAL-G ships one binary per database (wal-g-pg, wal-g-mysql, ...) and a universal build
// with `wal-g mysql ...`. This executable is the PostgreSQL `wal-g` by default, the MySQL/MariaDB one when
// (a) started under the name wal-g-mysql (a symlink or renamed copy of dist/wal-g) or (b) the first argument (after
// global flags) is `mysql`, or (c) a plain `wal-g` on a MySQL host: WALG_MYSQL_DATASOURCE_NAME set in the
// environment or the config file (mysqlByConfiguration), and the Redis/Valkey one with wal-g-redis or `redis`. The source launcher bin/wal-g is a shell script that execs node, so (a) only works
// for dist/wal-g; (b) works everywhere.

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { findConfigFile } from '../config/load.ts';

/** compat: the MySQL binary's name. */
export const MYSQL_BINARY = 'wal-g-mysql';

/**
 * The MySQL command arguments when the MySQL tree is selected, else undefined. `rest` is argv after the global
 * flags were taken out; `argv0` is the name the program was started under, `execPath` the executable's path.
 */
export function mysqlFlavorArgs(rest: readonly string[], argv0: string = process.argv0, execPath: string = process.execPath): string[] | undefined {
  const invokedAs = (p: string) => basename(p).replace(/\.exe$/i, '') === MYSQL_BINARY;
  if (invokedAs(argv0) || invokedAs(execPath)) return [...rest];
  if (rest[0] === 'mysql') return rest.slice(1);
  return undefined;
}

/** The words that choose a tree explicitly (WAL-G's universal build), never read as a MySQL command. */
const TREE_WORDS = new Set(['pg', 'mysql', 'redis']);

/**
 * The MySQL host rule for a plain `wal-g` (no `mysql` word, not named wal-g-mysql): WAL-G's MySQL binary is
 * installed as `wal-g` on MySQL hosts, so `wal-g backup-push` there must stay a MySQL backup. The MySQL tree runs
 * when WALG_MYSQL_DATASOURCE_NAME is set, in the environment (or a hidden flag) or in the config file (--config,
 * WALG_CONFIG_PATH, else ~/.walg.*). A PostgreSQL host never sets it, so its `wal-g` stays the PostgreSQL tree.
 * Returns the MySQL arguments when the rule selects MySQL, else undefined. A config file that cannot be read is
 * left to the normal config loading to report.
 */
export function mysqlByConfiguration(rest: readonly string[], o: { env: NodeJS.ProcessEnv; configPath?: string; home?: string; hasDsnFlag?: boolean }): string[] | undefined {
  if (rest[0] !== undefined && TREE_WORDS.has(rest[0])) return undefined;
  if (o.hasDsnFlag || (o.env.WALG_MYSQL_DATASOURCE_NAME ?? '') !== '') return [...rest];
  const file = findConfigFile({ env: o.env, configPath: o.configPath, home: o.home });
  if (file === undefined) return undefined;
  try {
    // Format-agnostic: the key's name anywhere in the file (JSON, YAML, TOML, dotenv ... all spell it out).
    return /WALG_MYSQL_DATASOURCE_NAME/i.test(readFileSync(file, 'utf8')) ? [...rest] : undefined;
  } catch {
    return undefined;
  }
}

/** compat: the Redis binary's name. */
export const REDIS_BINARY = 'wal-g-redis';

/** The Redis command arguments when the Redis tree is selected (as mysqlFlavorArgs), else undefined. */
export function redisFlavorArgs(rest: readonly string[], argv0: string = process.argv0, execPath: string = process.execPath): string[] | undefined {
  const invokedAs = (p: string) => basename(p).replace(/\.exe$/i, '') === REDIS_BINARY;
  if (invokedAs(argv0) || invokedAs(execPath)) return [...rest];
  if (rest[0] === 'redis') return rest.slice(1);
  return undefined;
}

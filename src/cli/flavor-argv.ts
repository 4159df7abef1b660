// Which command tree runs: WAL-G ships one binary per database (wal-g-pg, wal-g-mysql, ...) and a universal build
// with `wal-g mysql ...`. This executable is the PostgreSQL `wal-g` by default, the MySQL/MariaDB one when
// (a) started under the name wal-g-mysql (a symlink or renamed copy of dist/wal-g) or (b) the first argument (after
// global flags) is `mysql`, and the Redis/Valkey one the same way with wal-g-redis or `redis`. The source launcher bin/wal-g is a shell script that execs node, so (a) only works
// for dist/wal-g; (b) works everywhere.

import { basename } from 'node:path';

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

/** compat: the Redis binary's name. */
export const REDIS_BINARY = 'wal-g-redis';

/** The Redis command arguments when the Redis tree is selected (as mysqlFlavorArgs), else undefined. */
export function redisFlavorArgs(rest: readonly string[], argv0: string = process.argv0, execPath: string = process.execPath): string[] | undefined {
  const invokedAs = (p: string) => basename(p).replace(/\.exe$/i, '') === REDIS_BINARY;
  if (invokedAs(argv0) || invokedAs(execPath)) return [...rest];
  if (rest[0] === 'redis') return rest.slice(1);
  return undefined;
}

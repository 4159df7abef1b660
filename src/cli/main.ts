// Entry point: parse -> run -> exit code. The ONLY place in the tool that decides the process exit code.

import { CommanderError } from 'commander';
import { scanGlobalArgs } from './argv.ts';
import { daemonClientArgv } from '../pg/daemon/client-argv.ts';
import { mysqlByConfiguration, mysqlFlavorArgs, redisFlavorArgs } from './flavor-argv.ts';
import { runtime } from './run.ts';
import { EXIT, exitCodeFor, isBrokenPipe } from './exit-codes.ts';
import { ReportedError, describeError } from '../core/errors.ts';
import { log } from '../core/log.ts';
import { sourceMappedStack } from '../core/stack.ts';

/** Runs the CLI with `argv` (without node and script path) and resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) process.exit(128 + (sig === 'SIGINT' ? 2 : 15)); // second signal: stop now
    log.warn(`received ${sig}, cancelling`);
    ac.abort(new Error(`cancelled by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    // compat: started as walg-daemon-client (a symlink or renamed copy), behave as `wal-g daemon-client`.
    const globals = scanGlobalArgs(daemonClientArgv(argv));
    runtime.globals = globals;
    runtime.signal = ac.signal;
    // `wal-g mysql ...` or a binary named wal-g-mysql: the MySQL/MariaDB command tree (src/cli/flavor-argv.ts).
    // `wal-g redis ...` or wal-g-redis: the Redis/Valkey tree.
    // A plain `wal-g` with WALG_MYSQL_DATASOURCE_NAME configured: the MySQL tree (WAL-G's MySQL binary as `wal-g`).
    const explicitMysql = mysqlFlavorArgs(globals.rest);
    const redisArgs = explicitMysql ? undefined : redisFlavorArgs(globals.rest);
    const mysqlArgs = explicitMysql ?? (redisArgs ? undefined : mysqlByConfiguration(globals.rest, {
      env: process.env, configPath: globals.configPath, home: process.env.HOME, hasDsnFlag: globals.settingFlags.has('WALG_MYSQL_DATASOURCE_NAME'),
    }));
    const program = mysqlArgs ? (await import('./program-mysql.ts')).buildMysqlProgram()
      : redisArgs ? (await import('./program-redis.ts')).buildRedisProgram() : (await import('./program.ts')).buildProgram();
    program.exitOverride();
    program.configureOutput({ outputError: (str, write) => write(str.replace(/\n+$/, '\n')) });
    await program.parseAsync(mysqlArgs ?? redisArgs ?? globals.rest, { from: 'user' });
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end with a CommanderError too; commander already printed what it had to say.
      return err.exitCode === 0 ? EXIT.OK : EXIT.FAILURE;
    }
    if (isBrokenPipe(err)) return exitCodeFor(err); // the reader of stdout is gone: nothing to report to
    if (err instanceof ReportedError) return exitCodeFor(err); // the command said it already
    log.error(describeError(err));
    if (log.isDevel && err instanceof Error && err.stack) log.error(sourceMappedStack(err.stack));
    return exitCodeFor(err);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

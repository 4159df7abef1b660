// Glue between commander actions and command modules: loads the config once, configures logging,
// builds the CommandContext for the command's declared storage role, and guarantees cleanup.

import { loadConfig, exportToEnv } from '../config/load.ts';
import { ConfigError } from '../core/errors.ts';
import { log, LOG_LEVELS } from '../core/log.ts';
import type { LogLevel } from '../core/log.ts';
import { CommandContext } from '../commands/context.ts';
import type { StorageRole, StorageUse } from '../commands/context.ts';
import type { GlobalArgs } from './argv.ts';
import type { Config } from '../config/load.ts';

/** Process-wide state set by main() before commander dispatches. */
export const runtime: { globals?: GlobalArgs; signal?: AbortSignal } = {};

/** Loads settings and configures the logger (shared by commands with and without storage). */
export async function loadRunConfig(): Promise<Config> {
  const g = runtime.globals;
  const config = await loadConfig({
    env: process.env,
    flags: g?.settingFlags,
    configPath: g?.configPath,
    home: process.env.HOME,
  });
  // compat: WAL-G (tracelog) knows NORMAL, DEVEL and ERROR in upper case only.
  const level = config.get('WALG_LOG_LEVEL') as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw new ConfigError(`got incorrect log level: '${level}', expected one of: '[${LOG_LEVELS.join(' ')}]'`);
  log.configure(level, config.get('WALG_LOG_DESTINATION'));
  for (const w of config.warnings) log.warn(w);
  exportToEnv(config, process.env);
  if (log.isDevel) {
    for (const e of config.entries()) {
      if (e.source === 'default') continue;
      log.debug(`${e.name}=${e.secret ? '--HIDDEN--' : e.value}`);
    }
  }
  return config;
}

/**
 * Runs a command body with a fresh context whose storage follows `use`, the role the command declares where it is
 * registered (src/commands/<group>/index.ts); the context is closed whatever happens. This is the RunCommand the
 * command groups are registered with.
 */
export async function withContext(use: StorageRole | StorageUse, fn: (ctx: CommandContext) => Promise<void>): Promise<void> {
  const config = await loadRunConfig();
  const ctx = new CommandContext(config, runtime.signal ?? new AbortController().signal, runtime.globals?.turbo ?? false, use);
  try {
    await fn(ctx);
  } finally {
    await ctx.close();
  }
}

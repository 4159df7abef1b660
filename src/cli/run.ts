// Glue between commander actions and command modules: loads the config once, configures logging,
// builds the CommandContext, and guarantees cleanup.

import { loadConfig, exportToEnv } from '../config/load.ts';
import { ConfigError } from '../core/errors.ts';
import { log, LOG_LEVELS } from '../core/log.ts';
import type { LogLevel } from '../core/log.ts';
import { CommandContext } from './context.ts';
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
  const level = (config.get('WALG_LOG_LEVEL') ?? 'NORMAL').toUpperCase() as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw new ConfigError(`got incorrect log level: '${config.get('WALG_LOG_LEVEL')}'`);
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

/** Runs a command body with a fresh context; the context is closed whatever happens. */
export async function withContext(fn: (ctx: CommandContext) => Promise<void>): Promise<void> {
  const config = await loadRunConfig();
  // The command name (first word after the global flags) picks the command's failover-storage role.
  const command = runtime.globals?.rest.find((a) => !a.startsWith('-'));
  const ctx = new CommandContext(config, runtime.signal ?? new AbortController().signal, runtime.globals?.turbo ?? false, command);
  try {
    await fn(ctx);
  } finally {
    await ctx.close();
  }
}

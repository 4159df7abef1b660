// The Redis settings the command handlers pass down as option objects: src/redis/ never reads Config, so this file
// and the handlers beside it are the only places that read settings for Redis.

import { join } from 'node:path';
import type { Config } from '../../config/load.ts';
import { ConfigError } from '../../core/errors.ts';
import type { RedisConnectionSettings } from '../../redis/client.ts';
import type { RedisDataPaths } from '../../redis/fetch.ts';

/** compat: WAL-G's client — WALG_REDIS_HOST (localhost), _PORT (6379), _USERNAME, _PASSWORD, _DB (0). */
export function redisConnection(config: Config): RedisConnectionSettings {
  const port = Number(config.get('WALG_REDIS_PORT'));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new ConfigError(`WALG_REDIS_PORT: not a port number: ${config.get('WALG_REDIS_PORT')}`);
  const dbRaw = config.get('WALG_REDIS_DB');
  const db = dbRaw === undefined || dbRaw === '' ? 0 : Number(dbRaw);
  if (!Number.isInteger(db) || db < 0) throw new ConfigError(`WALG_REDIS_DB: not a database number: ${dbRaw}`);
  return { host: config.get('WALG_REDIS_HOST'), port, username: config.get('WALG_REDIS_USERNAME'), password: config.get('WALG_REDIS_PASSWORD'), db };
}

/** WALG_REDIS_DATA_PATH, the AOF directory inside it (WALG_REDIS_APPENDONLY_PATH) and the server's process name. */
export function redisDataPaths(config: Config): RedisDataPaths {
  const dataPath = config.get('WALG_REDIS_DATA_PATH');
  return { dataPath, aofPath: join(dataPath, config.get('WALG_REDIS_APPENDONLY_PATH')), processName: config.get('WALG_REDIS_SERVER_PROCESS_NAME') };
}

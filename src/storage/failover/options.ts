// Failover settings and configs: which storages WALG_FAILOVER_STORAGES names, the config each one is opened with,
// the check/cache settings (WALG_FAILOVER_STORAGES_CHECK*, _CACHE_LIFETIME) and the status-cache key of a storage.
// compat (WAL-G's internal/multistorage): failovers are ordered by name after the primary, 'default' is reserved.

import { createHash } from 'node:crypto';
import { Config } from '../../config/load.ts';
import type { SettingSource } from '../../config/load.ts';
import { findSetting } from '../../config/settings.ts';
import { ConfigError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';
import { configuredStorageType } from '../registry.ts';

/** The primary storage's name; reserved (a failover may not use it). */
export const DEFAULT_STORAGE = 'default';

/** Check and cache settings (WALG_FAILOVER_STORAGES_CHECK*, _CACHE_LIFETIME). */
export interface FailoverSettings {
  /** Aliveness checks on (default: on when failovers are configured). Off: every storage counts as alive. */
  check: boolean;
  checkTimeoutMs: number;
  checkSize: number;
  cacheLifetimeMs: number;
  /** Directory of the status cache files (default: the home directory, else /tmp). */
  cacheDir?: string;
}

/** Reads the failover settings from the config. */
export function failoverSettings(config: Config, failoverCount: number): FailoverSettings {
  return {
    check: config.getBool('WALG_FAILOVER_STORAGES_CHECK') ?? failoverCount > 0,
    checkTimeoutMs: config.getDurationMs('WALG_FAILOVER_STORAGES_CHECK_TIMEOUT'),
    checkSize: config.getSize('WALG_FAILOVER_STORAGES_CHECK_SIZE'),
    cacheLifetimeMs: config.getDurationMs('WALG_FAILOVER_STORAGES_CACHE_LIFETIME'),
  };
}

/**
 * The settings of each failover storage, by name (lower-cased as viper does), sorted by name.
 * compat: each map holds storage settings (a WALG_/WALE_*_PREFIX and e.g. AWS_* keys); "default" is reserved.
 */
export function failoverConfigs(config: Config): Array<{ name: string; settings: Record<string, unknown> }> {
  const map = config.getMap('WALG_FAILOVER_STORAGES');
  if (!map) return [];
  const out: Array<{ name: string; settings: Record<string, unknown> }> = [];
  for (const [rawName, settings] of Object.entries(map)) {
    const name = rawName.toLowerCase();
    if (name === DEFAULT_STORAGE) throw new ConfigError(`failover storage name '${DEFAULT_STORAGE}' is reserved`);
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
      throw new ConfigError(`failover storage ${name}: expected a map of storage settings`);
    }
    if (out.some((o) => o.name === name)) throw new ConfigError(`failover storage ${name} is configured twice`);
    out.push({ name, settings: settings as Record<string, unknown> });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const PREFIX_SETTING = /^WALG_(OSS|S3|FILE|GS|AZ|SWIFT|SSH)_PREFIX$/;

/**
 * The config one failover storage is opened with: the root config without any storage prefix, overlaid with the
 * failover's own settings. compat: WAL-G takes the prefix only from the failover's map and every other storage
 * setting from the map first, then from the global config.
 */
export function failoverConfig(root: Config, name: string, settings: Record<string, unknown>): Config {
  type Resolved = { value: string; source: SettingSource; via: string };
  const values = new Map<string, Resolved>();
  for (const e of root.entries()) {
    if (PREFIX_SETTING.test(e.name)) continue;
    values.set(e.name, { value: e.value, source: e.source, via: e.name });
  }
  for (const [key, raw] of Object.entries(settings)) {
    const def = findSetting(key);
    if (!def) { log.warn(`failover storage ${name}: ${key} is unknown`); continue; }
    if (raw === null || raw === undefined) continue;
    const value = typeof raw === 'string' ? raw : typeof raw === 'object' ? JSON.stringify(raw) : String(raw);
    values.set(def.name, { value, source: 'file', via: key });
  }
  const cfg = new Config(values, new Map(), root.file, []);
  if (!configuredStorageType(cfg)) throw new ConfigError(`failover storage ${name}: no storage prefix (WALG_FILE_PREFIX, WALG_S3_PREFIX, ...) is set`);
  return cfg;
}

/** A stable id of a storage's location for the status cache (names alone may be reused by other configs). */
export function configHash(config: Config): string {
  const type = configuredStorageType(config)!;
  const h = createHash('md5');
  h.update(type);
  h.update(JSON.stringify([config.get(`WALG_${type}_PREFIX`), config.get('WALG_STORAGE_PREFIX') ?? '', config.get('AWS_ENDPOINT') ?? '', config.get('SSH_PORT') ?? '']));
  return h.digest('hex');
}

// Resolves every setting from hidden flags, the environment, a config file and defaults (in that precedence),
// validates typed values on access, warns about settings that are accepted but not acted on, and exports the
// result to the process environment as WAL-G does.

import { readFileSync, existsSync, statSync } from 'node:fs';
import { join, extname } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import { goFormatFloat } from './file-values.ts';
import { SETTINGS, findSetting } from './settings.ts';
import type { DefaultedSettingName, SettingDef, SettingName } from './settings.ts';

export type { DefaultedSettingName, SettingName } from './settings.ts';

export type SettingSource = 'flag' | 'env' | 'file' | 'default';

interface Resolved { value: string; source: SettingSource; via: string }

/** What loadConfig reads; the CLI passes process.env, parsed hidden flags and the --config path. */
export interface LoadInput {
  env: Record<string, string | undefined>;
  /** Hidden setting flags, keyed by canonical setting name. */
  flags?: Map<string, string>;
  /** --config value, if given. */
  configPath?: string;
  /** Home directory for the default ~/.walg.* file. */
  home?: string;
}

/**
 * What a getter of setting N returns: T for a setting with a default in the table (an unset setting yields the
 * default), T | undefined otherwise.
 */
export type SettingValue<N extends SettingName, T> = N extends DefaultedSettingName ? T : T | undefined;

/**
 * The resolved, immutable settings of one run. Getters take a canonical setting name (checked by the compiler),
 * return the table's default when the setting is unset, and throw ConfigError on malformed values.
 */
export class Config {
  private readonly values: Map<string, Resolved>;
  /** Raw map-valued settings from the config file (WALG_FAILOVER_STORAGES, WALG_STATSD_EXTRA_TAGS). */
  private readonly maps: Map<string, Record<string, unknown>>;
  /** Path of the config file that was read, if any. */
  readonly file: string | undefined;
  /** Warnings produced while loading (unknown keys, unparsable file), for the CLI to log. */
  readonly warnings: readonly string[];

  constructor(values: Map<string, Resolved>, maps: Map<string, Record<string, unknown>>, file: string | undefined, warnings: string[]) {
    this.values = values;
    this.maps = maps;
    this.file = file;
    this.warnings = warnings;
    Object.freeze(this);
  }

  /**
   * The raw string of a setting: its resolved value, else (unset or empty: empty strings count as unset) the
   * table's default, else undefined. Every getter goes through here, so a Config built without default entries
   * (a failover storage's) still answers with the defaults.
   */
  private raw(name: string): string | undefined {
    const v = this.values.get(canonical(name))?.value;
    return v === undefined || v === '' ? findSetting(name)?.default : v;
  }

  /** The string value of a setting (the default when unset; undefined when unset without a default). */
  get<N extends SettingName>(name: N): SettingValue<N, string> {
    return this.raw(name) as SettingValue<N, string>;
  }

  /** Where a setting's value came from ('default' also when it was given empty and the default applies). */
  source(name: SettingName): SettingSource | undefined {
    const r = this.values.get(canonical(name));
    if ((r === undefined || r.value === '') && findSetting(name)?.default !== undefined) return 'default';
    return r?.source;
  }

  /** Like get(), but throws ConfigError naming the setting when it is unset and has no default. */
  require(name: SettingName): string {
    const v = this.raw(name);
    if (v === undefined) throw new ConfigError(`${name} is required but not set`);
    return v;
  }

  /** A boolean (Go strconv.ParseBool syntax). */
  getBool<N extends SettingName>(name: N): SettingValue<N, boolean> {
    const v = this.raw(name);
    return (v === undefined ? undefined : parseBool(name, v)) as SettingValue<N, boolean>;
  }

  /** A decimal integer. */
  getInt<N extends SettingName>(name: N): SettingValue<N, number> {
    const v = this.raw(name);
    if (v === undefined) return undefined as SettingValue<N, number>;
    if (!/^[-+]?\d+$/.test(v.trim())) throw new ConfigError(`${name}: '${v}' is not an integer`);
    return Number.parseInt(v, 10) as SettingValue<N, number>;
  }

  /** A finite number. */
  getFloat<N extends SettingName>(name: N): SettingValue<N, number> {
    const v = this.raw(name);
    if (v === undefined) return undefined as SettingValue<N, number>;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new ConfigError(`${name}: '${v}' is not a number`);
    return n as SettingValue<N, number>;
  }

  /** Duration in milliseconds (Go syntax: 300ms, 1m30s, 2h; a bare number is nanoseconds as in viper). */
  getDurationMs<N extends SettingName>(name: N): SettingValue<N, number> {
    const v = this.raw(name);
    return (v === undefined ? undefined : parseDurationMs(name, v)) as SettingValue<N, number>;
  }

  /** Size in bytes (1048576, 1kb, 1mb, 1gb; 1024-based as viper). */
  getSize<N extends SettingName>(name: N): SettingValue<N, number> {
    const v = this.raw(name);
    return (v === undefined ? undefined : parseSize(name, v)) as SettingValue<N, number>;
  }

  /** A JSON value, or undefined when unset. */
  getJson(name: SettingName): unknown {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    try { return JSON.parse(v); } catch { throw new ConfigError(`${name}: value is not valid JSON`); }
  }

  /** A map-valued setting: from the config file as a nested map, or from a JSON string. */
  getMap(name: SettingName): Record<string, unknown> | undefined {
    const m = this.maps.get(canonical(name));
    if (m) return m;
    const j = this.getJson(name);
    if (j === undefined) return undefined;
    if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new ConfigError(`${name}: expected a map`);
    return j as Record<string, unknown>;
  }

  /**
   * Every resolved setting as [canonical name, value, secret, source] (for the DEVEL dump and export), defaults
   * included with source 'default' (neither dumps nor exports them).
   */
  entries(): Array<{ name: string; value: string; secret: boolean; source: SettingSource }> {
    return [...this.values.entries()].map(([name, r]) => ({ name, value: r.value, secret: !!findSetting(name)?.secret, source: r.source }));
  }
}

function canonical(name: string): string { return findSetting(name)?.name ?? name.toUpperCase(); }

/** Go strconv.ParseBool. */
export function parseBool(name: string, v: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v.trim())) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v.trim())) return false;
  throw new ConfigError(`${name}: '${v}' is not a boolean`);
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go time.ParseDuration, returning milliseconds. A bare integer is nanoseconds (viper/cast behaviour). */
export function parseDurationMs(name: string, v: string): number {
  const t = v.trim();
  if (/^[-+]?\d+$/.test(t)) return Number(t) / 1e6;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let sign = 1;
  let body = t;
  if (body.startsWith('-') || body.startsWith('+')) { sign = body.startsWith('-') ? -1 : 1; body = body.slice(1); }
  re.lastIndex = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body)) !== null) { total += Number(m[1]) * DURATION_UNITS[m[2]!]!; pos = re.lastIndex; }
  if (pos !== body.length || body.length === 0) throw new ConfigError(`${name}: '${v}' is not a duration (e.g. 30s, 5m, 1h)`);
  return sign * total;
}

/** viper's size syntax: digits with an optional kb/mb/gb (or k/m/g, b) suffix, 1024-based. */
export function parseSize(name: string, v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb?|mb?|gb?|tb?)?\s*$/i.exec(v);
  if (!m) throw new ConfigError(`${name}: '${v}' is not a size (e.g. 1048576, 1mb)`);
  const mult: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1 << 20, mb: 1 << 20, g: 1 << 30, gb: 1 << 30, t: 2 ** 40, tb: 2 ** 40 };
  return Math.floor(Number(m[1]) * mult[(m[2] ?? '').toLowerCase()]!);
}

/** Names under which a setting may appear, in lookup order. */
function candidateNames(d: SettingDef): string[] {
  if (d.storage) return [`WALG_${d.name}`, `WALE_${d.name}`, d.name, ...(d.aliases ?? [])];
  return [d.name, ...(d.aliases ?? [])];
}

// compat: viper's SupportedExts, in its order: $HOME/.walg.<ext> is looked up with each, and a config file's
// extension must be one of them, exactly (`.YAML` is not). Only the first six have a decoder in viper v1.21.
const VIPER_EXTS = ['json', 'toml', 'yaml', 'yml', 'properties', 'props', 'prop', 'hcl', 'tfvars', 'dotenv', 'env', 'ini'];

/** Finds the config file: --config, else WALG_CONFIG_PATH, else the first ~/.walg.<ext>. */
export function findConfigFile(input: LoadInput): string | undefined {
  if (input.configPath) return input.configPath;
  const fromEnv = input.env.WALG_CONFIG_PATH;
  if (fromEnv) return fromEnv;
  if (input.home) {
    for (const ext of VIPER_EXTS) {
      const p = join(input.home, `.walg.${ext}`);
      if (isFile(p)) return p;
    }
  }
  return undefined;
}

/** Parses a dotenv file: KEY=VALUE lines, optional `export`, quotes, # comments. */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    const quoted = /^(["'])(.*)\1\s*(?:#.*)?$/.exec(v);
    if (quoted) {
      v = quoted[2]!;
      if (quoted[1] === '"') v = v.replace(/\\n/g, '\n').replace(/\\"/g, '"');
    } else {
      v = v.replace(/\s+#.*$/, '').trim();
    }
    out[m[1]!] = v;
  }
  return out;
}

/** True for an existing regular file (compat: viper's lookup skips directories). */
function isFile(p: string): boolean {
  try { return statSync(p).isFile(); } catch { return false; }
}

async function parseConfigFile(path: string): Promise<Record<string, unknown>> {
  // compat: viper decides the format by the extension as written; an unsupported one fails like a parse error.
  const ext = extname(path).slice(1);
  if (!VIPER_EXTS.includes(ext)) throw new Error(`Unsupported Config Type "${ext}"`);
  const text = readFileSync(path, 'utf8');
  switch (ext) {
    case 'json': {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('the document is not an object of settings');
      return parsed as Record<string, unknown>;
    }
    case 'yaml':
    case 'yml': {
      const { parseWalgYaml } = await import('./yaml-file.ts');
      return parseWalgYaml(text);
    }
    case 'toml': {
      const { parse } = await import('smol-toml');
      return parse(text) as Record<string, unknown>;
    }
    case 'env':
    case 'dotenv': return parseDotenv(text);
    default: throw new Error(`decoder not found for this format: ${ext} (use .json, .yaml, .yml, .toml or .env)`);
  }
}

/** compat: viper's GetString (spf13/cast ToString): numbers as Go formats a float64, integers exactly. */
function scalarToString(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v.replace(/[\r\n]+$/, '');
  if (typeof v === 'number') return goFormatFloat(v);
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/**
 * Loads the configuration. Never throws for an unreadable or malformed file (compat: WAL-G only warns);
 * throws ConfigError only for an explicit --config path that does not exist.
 */
export async function loadConfig(input: LoadInput): Promise<Config> {
  const warnings: string[] = [];
  const file = findConfigFile(input);
  let fileValues: Record<string, unknown> = {};
  let fileUsed: string | undefined;
  if (file) {
    if (!existsSync(file)) {
      if (input.configPath) throw new ConfigError(`config file '${file}' does not exist`);
      warnings.push(`config file '${file}' does not exist, using environment only`);
    } else {
      try {
        const parsed = await parseConfigFile(file);
        if (parsed && typeof parsed === 'object') {
          // compat: viper keys are case-insensitive.
          for (const [k, v] of Object.entries(parsed)) fileValues[k.toUpperCase()] = v;
          fileUsed = file;
        }
      } catch (err) {
        warnings.push(`failed to read config file '${file}': ${(err as Error).message.split('\n')[0]}; continuing without it`);
        fileValues = {};
      }
    }
  }

  let unknownSeen = false;
  for (const k of Object.keys(fileValues)) {
    if (!findSetting(k)) {
      warnings.push(`${k} is unknown`);
      unknownSeen = true;
    }
  }
  if (unknownSeen) warnings.push('run "wal-g flags" to see the settings this tool accepts');

  const values = new Map<string, Resolved>();
  const maps = new Map<string, Record<string, unknown>>();
  for (const d of SETTINGS as readonly SettingDef[]) {
    const names = candidateNames(d);
    let r: Resolved | undefined;
    const flag = input.flags?.get(d.name);
    if (flag !== undefined) r = { value: flag, source: 'flag', via: d.name };
    if (!r) {
      for (const n of names) {
        const v = input.env[n];
        if (v !== undefined && v !== '') { r = { value: v.replace(/[\r\n]+$/, ''), source: 'env', via: n }; break; }
      }
    }
    if (!r) {
      // compat: for storage settings the bare name in the config file is tried first.
      const fileOrder = d.storage ? [d.name, ...names] : names;
      for (const n of fileOrder) {
        const raw = fileValues[n];
        if (raw === undefined) continue;
        if (d.type === 'map' && typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
          maps.set(d.name, raw as Record<string, unknown>);
          break;
        }
        const v = scalarToString(raw);
        if (v !== undefined) { r = { value: v, source: 'file', via: n }; break; }
      }
    }
    if (!r && d.default !== undefined) r = { value: d.default, source: 'default', via: d.name };
    if (r) values.set(d.name, r);
  }
  warnings.push(...inertWarnings(values, maps));
  return new Config(values, maps, fileUsed, warnings);
}

/**
 * One warning per setting the table marks inert that this run sets to something other than its default
 * (a value equal to the default changes nothing, here or in WAL-G), unless its inertUnless companion is set.
 */
function inertWarnings(values: Map<string, Resolved>, maps: Map<string, Record<string, unknown>>): string[] {
  const given = (name: string) => {
    const r = values.get(name);
    return maps.has(name) || (r !== undefined && r.source !== 'default' && r.value.trim() !== '');
  };
  const out: string[] = [];
  for (const d of SETTINGS as readonly SettingDef[]) {
    if (d.inert === undefined || !given(d.name)) continue;
    const v = values.get(d.name)?.value.trim();
    if (v !== undefined && d.default !== undefined && v.toLowerCase() === d.default.toLowerCase()) continue;
    if (d.inertUnless !== undefined && given(d.inertUnless)) continue;
    out.push(`${d.name} is accepted for compatibility but not supported by this implementation (${d.inert}); it has no effect`);
  }
  return out;
}

/**
 * compat: WAL-G exports every resolved setting to the process environment so that libpq-style variables,
 * OS_* and child stream commands see values that came from the config file or flags. Map settings are skipped.
 */
export function exportToEnv(config: Config, env: Record<string, string | undefined>): void {
  for (const e of config.entries()) {
    const d = findSetting(e.name);
    // Defaults stay internal; a flag or file value (or an env value given under a WALE_/WALG_ alias)
    // is published under the canonical name libraries and child commands read.
    if (!d || d.noExport || e.source === 'default') continue;
    env[e.name] = e.value;
  }
}

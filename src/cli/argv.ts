// Pre-scans argv for global options that may appear anywhere (cobra persistent flags): --config, --turbo and
// the hidden --<setting-name> flags, so commander only sees each command's own arguments.

import { SETTINGS, flagName } from '../config/settings.ts';
import { UsageError } from '../core/errors.ts';

/** Result of the pre-scan. */
export interface GlobalArgs {
  rest: string[];
  configPath?: string;
  turbo: boolean;
  settingFlags: Map<string, string>;
}

const settingByFlag = new Map<string, string>();
for (const d of SETTINGS) {
  settingByFlag.set(flagName(d.name), d.name);
  for (const a of d.aliases ?? []) settingByFlag.set(flagName(a), d.name);
  if (d.storage) {
    settingByFlag.set(flagName(`WALG_${d.name}`), d.name);
    settingByFlag.set(flagName(`WALE_${d.name}`), d.name);
  }
}

/** True if `--name` is a hidden setting flag. */
export function isSettingFlag(name: string): boolean { return settingByFlag.has(name); }

/** Splits global options out of argv (without node and script). Stops at a literal `--`. */
export function scanGlobalArgs(argv: readonly string[]): GlobalArgs {
  const rest: string[] = [];
  const settingFlags = new Map<string, string>();
  let configPath: string | undefined;
  let turbo = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { rest.push(...argv.slice(i)); break; }
    if (!a.startsWith('--')) { rest.push(a); continue; }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const takeValue = (): string => {
      if (eq >= 0) return a.slice(eq + 1);
      const v = argv[i + 1];
      if (v === undefined) throw new UsageError(`flag needs an argument: --${name}`);
      i++;
      return v;
    };
    if (name === 'config') configPath = takeValue();
    else if (name === 'turbo') turbo = eq < 0 ? true : !/^(0|f|false)$/i.test(a.slice(eq + 1));
    else if (settingByFlag.has(name)) settingFlags.set(settingByFlag.get(name)!, takeValue());
    else rest.push(a);
  }
  return { rest, configPath, turbo, settingFlags };
}

// Loads native addons both from source (node_modules) and from the single executable (SEA assets).
// In dist/wal-g the build (scripts/build.ts) embeds each addon as an asset and aliases the packages'
// own loaders to this module; at run time the asset is written once to a per-version cache file and dlopen'ed.

import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';

/** The native addons the tool may load, with the path the package ships them at (linux-x64 build). */
export const NATIVE_ADDONS = {
  lz4: '@antoniomuso/lz4-napi-linux-x64-gnu/lz4-napi.linux-x64-gnu.node',
  lzma: 'lzma-native/prebuilds/linux-x64/node.napi.node',
  sodium: 'sodium-native/prebuilds/linux-x64/sodium-native.node',
} as const;

export type NativeAddon = keyof typeof NATIVE_ADDONS;

const cache = new Map<string, unknown>();

/** The node:sea API of the single executable we run as, or undefined when running from source. */
export interface SeaApi { isSea(): boolean; getAsset(k: string, enc: string): string; getRawAsset(k: string): ArrayBuffer }

/** node:sea when this process is dist/wal-g (the single executable), else undefined. */
export function seaApi(): SeaApi | undefined {
  try {
    const sea = createRequire(import.meta.url)('node:sea') as SeaApi;
    return sea.isSea() ? sea : undefined;
  } catch {
    return undefined;
  }
}

/** Returns the exports of a native addon. Throws a plain Error naming the addon when it cannot be loaded. */
export function loadNative<T = unknown>(name: NativeAddon): T {
  const hit = cache.get(name);
  if (hit) return hit as T;
  let exports: unknown;
  const sea = seaApi();
  if (sea) {
    const bytes = Buffer.from(sea.getRawAsset(`${name}.node`));
    const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    const dir = join(tmpdir(), `wal-g-native-${process.getuid?.() ?? 'u'}`);
    const file = join(dir, `${name}-${digest}.node`);
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // Write under a unique name and rename, so concurrent wal-push processes never dlopen a partial file.
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, bytes, { mode: 0o500 });
      renameSync(tmp, file);
    }
    const mod = { exports: {} as unknown };
    process.dlopen(mod, file);
    exports = mod.exports;
  } else {
    const require = createRequire(import.meta.url);
    exports = require(NATIVE_ADDONS[name]);
  }
  cache.set(name, exports);
  return exports as T;
}

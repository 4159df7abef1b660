// Stack traces for WALG_LOG_LEVEL=DEVEL that name the project's source files. In dist/wal-g every frame points at
// the bundle (and at the path where it was built); the build embeds esbuild's source map as the asset
// `wal-g.cjs.map`, read here only when a stack is actually printed, so no run pays for it otherwise.

import { SourceMap } from 'node:module';
import { seaApi } from './native.ts';

let cached: SourceMap | null | undefined;

function bundleMap(): SourceMap | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    const sea = seaApi();
    if (sea) cached = new SourceMap(JSON.parse(sea.getAsset('wal-g.cjs.map', 'utf8') as string));
  } catch { /* no map embedded: frames stay as they are */ }
  return cached;
}

/** Rewrites frames `…/wal-g.cjs:L:C` of `stack` to `src/….ts:L:C` with the embedded map; other frames unchanged. */
export function sourceMappedStack(stack: string, map: SourceMap | null = bundleMap()): string {
  if (!map) return stack;
  return stack.replace(/(?:[^\s()]*\/)?wal-g\.cjs:(\d+):(\d+)/g, (frame, line: string, col: string) => {
    const entry = map.findEntry(Number(line) - 1, Number(col) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
    if (!entry.originalSource) return frame;
    // Sources are relative to dist/ ("../src/pg/wal/push.ts"): print them relative to the project root.
    const source = entry.originalSource.replace(/^(?:\.\.\/)+/, '');
    return `${source}:${(entry.originalLine ?? 0) + 1}:${(entry.originalColumn ?? 0) + 1}`;
  });
}

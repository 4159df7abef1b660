// Interop case 9 (issue 14), the settings half: every setting WAL-G v3.0.9 accepts (its `wal-g flags` lists each as
// a --lower-dashed flag) is accepted by ours, as a flag on the command line. Found missing when first run: the
// OSS tuning settings, the failover cache EMA parameters, AWS_DEFAULT_OUTPUT and S3's bare UPLOAD_CONCURRENCY.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OURS, REFERENCE, WALG } from './harness.ts';
import { baseEnv, runBin } from '../helpers/cli.ts';

const skip = REFERENCE.pg ? false : 'WALG_REFERENCE_PG is not set';

/** The long flags of `<bin> flags`, without --config and --turbo (options of every command, not settings). */
async function settingFlags(bin: string): Promise<string[]> {
  const r = await runBin(bin, ['flags'], baseEnv({}));
  return [...(r.stdout.toString() + r.stderr.toString()).matchAll(/^\s+--([a-z0-9-]+)/gm)].map((m) => m[1]!).filter((f) => f !== 'config' && f !== 'turbo');
}

test('every setting flag of WAL-G is accepted by ours', { skip, timeout: 120_000 }, async () => {
  const theirs = await settingFlags(WALG.bin);
  assert.ok(theirs.length > 150, `WAL-G listed only ${theirs.length} flags`);
  const store = mkdtempSync(join(tmpdir(), 'walg-interop-flags-'));
  try {
    const refused: string[] = [];
    for (const f of theirs) {
      // The value is a path inside the temp dir: settings such as WALG_LOG_DESTINATION write where they point.
      // Only "unknown option" counts here; a value a setting cannot parse is another error.
      const r = await runBin(OURS.bin, ['st', 'ls', `--${f}`, join(store, 'value')], baseEnv({ WALG_FILE_PREFIX: store }));
      if (/unknown option/.test(r.stderr.toString())) refused.push(f);
    }
    assert.deepEqual(refused, [], `ours refuses WAL-G's settings: ${refused.join(', ')}`);
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
});

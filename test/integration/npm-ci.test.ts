// A fresh clone's first `npm ci` runs on whatever Node the machine has (often older than the Node the project pins
// in package.json), so every package that wants a newer engine would print an EBADENGINE wall. .npmrc keeps npm at
// loglevel=error: the first run is quiet (issue 12, acceptance 4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';

test('npm ci on a copy of the project manifest prints no EBADENGINE warnings', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'walg-npm-ci-'));
  try {
    for (const f of ['package.json', 'package-lock.json', '.npmrc']) copyFileSync(join(ROOT, f), join(dir, f));
    // npm from PATH, as a new user runs it; scripts are skipped (the pinned node package would only be relinked).
    const out = await new Promise<string>((resolve, reject) => {
      execFile('npm', ['ci', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, maxBuffer: 1 << 24 },
        (err, stdout, stderr) => (err ? reject(new Error(`npm ci failed: ${stderr}`)) : resolve(stdout + stderr)));
    });
    assert.doesNotMatch(out, /EBADENGINE/);
    assert.doesNotMatch(out, /npm warn/i);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

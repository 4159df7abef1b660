// The helper that spawns the tool in tests resolves to the artefact (dist/wal-g) unless the development switch is
// set: a test that ran bin/wal-g by default would hide bugs that live only in the bundle (issue 12).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIST_BIN, FROM_SOURCE_SWITCH, SOURCE_BIN, WALG_BIN, toolBin } from '../helpers/cli.ts';

test('toolBin is dist/wal-g unless WALG_TEST_FROM_SOURCE=1', () => {
  assert.equal(toolBin({}), DIST_BIN);
  assert.equal(toolBin({ [FROM_SOURCE_SWITCH]: '0' }), DIST_BIN);
  assert.equal(toolBin({ [FROM_SOURCE_SWITCH]: '' }), DIST_BIN);
  assert.equal(toolBin({ [FROM_SOURCE_SWITCH]: '1' }), SOURCE_BIN);
  assert.match(DIST_BIN, /\/dist\/wal-g$/);
});

test('this run spawns the artefact unless the development switch is set', () => {
  if (process.env[FROM_SOURCE_SWITCH] === '1') assert.equal(WALG_BIN, SOURCE_BIN);
  else assert.equal(WALG_BIN, DIST_BIN, `tests must run dist/wal-g, not ${WALG_BIN}`);
});

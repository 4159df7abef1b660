// Unit tests of the delta parent choice (src/pg/basebackup/delta.ts, walg-format.md §4.1) over the synthetic catalog: max
// steps, LATEST vs LATEST_FULL, --delta-from-name / --delta-from-user-data, and each fallback to a full backup.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage } from '../../src/storage/drivers/memory.ts';
import { ConfigError, WalgError } from '../../src/core/errors.ts';
import { chooseDeltaParent, deltaOriginIsFull, stripWalFileName } from '../../src/pg/basebackup/delta.ts';
import type { DeltaConfig } from '../../src/pg/basebackup/delta.ts';
import { BACKUPS, B, populate } from '../helpers/catalog-fixture.ts';
import type { FixtureBackup } from '../helpers/catalog-fixture.ts';

async function storageWith(backups: FixtureBackup[]): Promise<MemoryStorage> {
  const s = new MemoryStorage();
  await populate(s, { backups });
  return s;
}

const cfg = (extra: Partial<DeltaConfig> = {}): DeltaConfig => ({ maxSteps: 3, fromFull: false, ...extra });
const upTo = (name: string) => BACKUPS.slice(0, BACKUPS.findIndex((b) => b.name === name) + 1);

describe('chooseDeltaParent', () => {
  test('WALG_DELTA_MAX_STEPS=0 (the default) and an empty storage give a full backup', async () => {
    assert.equal(await chooseDeltaParent(await storageWith(BACKUPS), cfg({ maxSteps: 0 }), false), undefined);
    assert.equal(await chooseDeltaParent(new MemoryStorage(), cfg(), false), undefined);
  });

  test('LATEST: the newest backup, DeltaCount one more than its own', async () => {
    const s = await storageWith(upTo(B.D3a));
    const p = await chooseDeltaParent(s, cfg(), false);
    assert.equal(p?.name, B.D3a);
    assert.equal(p?.count, 2);
    assert.equal(p?.sentinel.DeltaFullName, B.F3);
    const f = await chooseDeltaParent(await storageWith(upTo(B.F3)), cfg(), false);
    assert.equal(f?.name, B.F3);
    assert.equal(f?.count, 1);
  });

  test('a chain at WALG_DELTA_MAX_STEPS starts a new full backup', async () => {
    const s = await storageWith(BACKUPS); // LATEST is D3b, DeltaCount 2
    assert.equal((await chooseDeltaParent(s, cfg({ maxSteps: 3 }), false))?.count, 3);
    assert.equal(await chooseDeltaParent(s, cfg({ maxSteps: 2 }), false), undefined);
  });

  test('LATEST_FULL: the parent is the chain\'s full backup; the count still follows LATEST', async () => {
    const p = await chooseDeltaParent(await storageWith(BACKUPS), cfg({ fromFull: true }), false);
    assert.equal(p?.name, B.F3);
    assert.equal(p?.count, 3);
    assert.equal(p?.sentinel.DeltaFrom, undefined);
  });

  test('--delta-from-name and --delta-from-user-data pick that backup; a missing name is an error', async () => {
    const s = await storageWith(BACKUPS);
    assert.equal((await chooseDeltaParent(s, cfg({ fromName: B.D1a }), false))?.name, B.D1a);
    assert.equal((await chooseDeltaParent(s, cfg({ fromUserData: '{"y":4,"x":[3]}' }), false))?.name, B.F2);
    await assert.rejects(chooseDeltaParent(s, cfg({ fromName: 'base_000000010000000000000099' }), false), WalgError);
  });

  test('a permanent parent gives a full backup unless the new one is permanent too', async () => {
    const s = await storageWith(upTo(B.P));
    assert.equal(await chooseDeltaParent(s, cfg(), false), undefined);
    assert.equal((await chooseDeltaParent(s, cfg(), true))?.name, B.P);
  });

  test('WALG_DELTA_ORIGIN accepts LATEST and LATEST_FULL only; names strip to their start WAL', () => {
    assert.equal(deltaOriginIsFull(undefined), false);
    assert.equal(deltaOriginIsFull('LATEST'), false);
    assert.equal(deltaOriginIsFull('LATEST_FULL'), true);
    assert.throws(() => deltaOriginIsFull('latest'), ConfigError);
    assert.equal(stripWalFileName(B.D1b), B.D1b.slice(5, 29));
    assert.equal(stripWalFileName('base_000000010000000000000005_00000028'), '000000010000000000000005');
  });
});

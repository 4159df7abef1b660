// The pure delete planners (src/backup/retention-plan.ts, with PostgreSQL's WAL rules) on the shared multi-backup
// catalog: every mode, FULL/FIND_FULL, --after, --use-sentinel-time, argument validation with WAL-G's messages, and
// permanence in every mode.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { deletionOrder, parseRfc3339, DeleteRefusedError, BackupNotFoundError } from '../../src/backup/retention.ts';
import type { DeletePlan } from '../../src/backup/retention.ts';
import { parseRetainArgs, parseBeforeArgs, parseEverythingArgs, parseTargetArgs, parseGarbageArgs } from '../../src/backup/retention-args.ts';
import { planRetain, planBefore, planEverything, planTarget, planGarbage } from '../../src/pg/basebackup/retention-wal.ts';
import type { PgRetentionInput as RetentionInput } from '../../src/pg/basebackup/retention-wal.ts';
import { metadataFromSentinel, toRetentionBackup } from '../../src/backup/catalog.ts';
import { UsageError } from '../../src/core/errors.ts';
import { BASEBACKUPS_PATH, WAL_PATH, sentinelKey } from '../../src/backup/layout.ts';
import { B, BACKUPS, LEFTOVERS, WAL_NAMES, backupKeys, sentinelOf, startTimeOf, wal, full, delta } from '../helpers/catalog-fixture.ts';
import type { FixtureBackup } from '../helpers/catalog-fixture.ts';

const NOW = new Date(Date.UTC(2024, 5, 1));
/** Sentinel LastModified of the i-th backup: five minutes after its start. */
const modifiedOf = (i: number) => new Date(startTimeOf(i).getTime() + 5 * 60_000);

/** The planner input for a list of fixture backups, built through the same mapping the CLI uses. */
function input(list: FixtureBackup[] = BACKUPS, opts: { leftovers?: boolean; useSentinelTime?: boolean } = {}): RetentionInput {
  const backups = list.map((b, i) => {
    const s = sentinelOf(b, BACKUPS.indexOf(b) >= 0 ? BACKUPS.indexOf(b) : i);
    return toRetentionBackup({ name: b.name, modified: modifiedOf(BACKUPS.indexOf(b) >= 0 ? BACKUPS.indexOf(b) : i), sentinel: s,
      metadata: b.noMetadata ? undefined : metadataFromSentinel(s, !!b.permanent) });
  });
  const objects = [
    ...WAL_NAMES.map((w) => `${WAL_PATH}${w}`),
    ...list.flatMap((b) => backupKeys(b.name, !b.noMetadata)),
    ...(opts.leftovers ? LEFTOVERS : []),
  ].sort();
  return { backups, objects, now: NOW, useSentinelTime: opts.useSentinelTime };
}

const walKey = (tl: number, seg: number) => `${WAL_PATH}${wal(tl, seg)}.lz4`;
const walRange = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => walKey(1, from + i));
const marked = (p: DeletePlan) => p.marked.map((m) => m.key).sort();
const keysOf = (...names: string[]) => names.flatMap((n) => backupKeys(n));
const CHAIN1 = [B.F1, B.D1a, B.D1b];
const CHAIN2 = [B.F2, B.D2a, B.D2b];
const CHAIN3 = [B.F3, B.D3a, B.D3b];
/** What deleting everything before `seg` on timeline 1 removes: older non-permanent WAL (P keeps 0x02-0x03). */
const walBefore = (seg: number) => [walKey(1, 0x01), ...walRange(0x04, seg - 1)];

function assertDeletes(plan: DeletePlan, backups: string[], walKeys: string[], extra: string[] = []): void {
  assert.deepEqual(marked(plan), [...keysOf(...backups), ...walKeys, ...extra].sort());
  assert.deepEqual([...plan.deletedBackups].sort(), [...backups].sort());
}

/** Permanence: the permanent backup and the WAL it needs are never in a plan. */
function assertPermanentSurvives(plan: DeletePlan): void {
  const keys = new Set(marked(plan));
  for (const k of [...keysOf(B.P), walKey(1, 0x02), walKey(1, 0x03)]) assert.ok(!keys.has(k), `${k} must survive`);
}

describe('delete retain', () => {
  test('retain N keeps the newest N when the Nth is full: older backups and their WAL go, permanent ones stay', () => {
    const plan = planRetain(input(), { count: 3, modifier: 'NONE' });
    assert.equal(plan.target, B.F3);
    assertDeletes(plan, [...CHAIN1, ...CHAIN2], walBefore(0x11));
    assertPermanentSurvives(plan);
    assert.ok(plan.messages.some((m) => m.text === 'Start delete'));
    assert.ok(plan.messages.some((m) => m.text.startsWith(`Found permanent objects: backups=map[{${B.P} default}:true], wals=map[{${wal(1, 2)} default}:true {${wal(1, 3)} default}:true]`)));
  });

  test('retain N fails when the Nth backup is a delta (WAL-G message names the sentinel)', () => {
    assert.throws(() => planRetain(input(), { count: 2, modifier: 'NONE' }), (err: unknown) => err instanceof DeleteRefusedError
      && err.message === `${B.D3a}_backup_stop_sentinel.json is incremental and it's predecessors cannot be deleted. Consider FIND_FULL option.`);
  });

  test('retain FULL N keeps N full backups and their deltas', () => {
    const plan = planRetain(input(), { count: 2, modifier: 'FULL' });
    assert.equal(plan.target, B.F2);
    assertDeletes(plan, CHAIN1, walBefore(0x0b));
    assertPermanentSurvives(plan);
  });

  test('retain FIND_FULL N goes back to the full backup the Nth one needs', () => {
    const two = planRetain(input(), { count: 2, modifier: 'FIND_FULL' });
    assert.equal(two.target, B.F3);
    assertDeletes(two, [...CHAIN1, ...CHAIN2], walBefore(0x11));
    const four = planRetain(input(), { count: 4, modifier: 'FIND_FULL' });
    assert.equal(four.target, B.F2);
    assertDeletes(four, CHAIN1, walBefore(0x0b));
    assertPermanentSurvives(four);
  });

  test('retain more than there are: "No backup found for deletion", nothing evaluated', () => {
    const plan = planRetain(input(), { count: 11, modifier: 'NONE' });
    assert.equal(plan.evaluate, false);
    assert.deepEqual(plan.marked, []);
    assert.equal(plan.messages.at(-1)?.text, 'No backup found for deletion');
  });

  test('retain N --after <name> also keeps everything from that backup on (the older cut wins)', () => {
    // Alone, "retain 2" would stop at a delta; --after F2 moves the cut back to F2.
    const plan = planRetain(input(), { count: 2, modifier: 'NONE', after: B.F2 });
    assert.equal(plan.target, B.F2);
    assertDeletes(plan, CHAIN1, walBefore(0x0b));
    // When retain N is already older than --after, retain N wins.
    assert.equal(planRetain(input(), { count: 9, modifier: 'NONE', after: B.F3 }).target, B.F1);
  });

  test('retain N --after <RFC3339 time> keeps backups taken at or after that time', () => {
    const plan = planRetain(input(), { count: 1, modifier: 'NONE', after: startTimeOf(4).toISOString() });
    assert.equal(plan.target, B.F2);
    assertDeletes(plan, CHAIN1, walBefore(0x0b));
    assertPermanentSurvives(plan);
  });

  test('retain FULL N --after aligns the --after point to a full backup, as WAL-G does', () => {
    assert.equal(planRetain(input(), { count: 1, modifier: 'FULL', after: B.D2a }).target, B.F3);
    assert.equal(planRetain(input(), { count: 1, modifier: 'FIND_FULL', after: B.F2 }).target, B.F2);
  });

  test('argument validation: count > 0, a number, modifiers (WAL-G texts)', () => {
    assert.deepEqual(parseRetainArgs(['5']), { modifier: 'NONE', count: 5 });
    assert.deepEqual(parseRetainArgs(['FULL', '2']), { modifier: 'FULL', count: 2 });
    assert.deepEqual(parseRetainArgs(['FIND_FULL', '2']), { modifier: 'FIND_FULL', count: 2 });
    assert.throws(() => parseRetainArgs(['0']), { message: 'cannot retain less than one backup. Check out delete everything' });
    assert.throws(() => parseRetainArgs(['-3']), UsageError);
    assert.throws(() => parseRetainArgs(['x']), { message: `expected to get a number as retantion count, but got: 'x': strconv.Atoi: parsing "x": invalid syntax` });
    assert.throws(() => parseRetainArgs(['LAST', '2']), { message: 'expected to get one of modifiers: [FULL FIND_FULL] as first argument' });
    assert.throws(() => parseRetainArgs([]), { message: 'accepts between 1 and 2 arg(s), received 0' });
  });
});

describe('delete before', () => {
  test('before <name> deletes everything older than that full backup', () => {
    const plan = planBefore(input(), { target: B.F2, modifier: 'NONE' });
    assert.equal(plan.target, B.F2);
    assertDeletes(plan, CHAIN1, walBefore(0x0b));
    assertPermanentSurvives(plan);
  });

  test('before <time> picks the first backup at or after the time (sentinel time order)', () => {
    const plan = planBefore(input(), { target: startTimeOf(4).toISOString(), modifier: 'NONE' });
    assert.equal(plan.target, B.F2);
    assertDeletes(plan, CHAIN1, walBefore(0x0b));
  });

  test('before FIND_FULL <delta> goes back to its full backup; by time too', () => {
    const plan = planBefore(input(), { target: B.D2b, modifier: 'FIND_FULL' });
    assert.equal(plan.target, B.F2);
    assertDeletes(plan, CHAIN1, walBefore(0x0b));
    assert.equal(planBefore(input(), { target: startTimeOf(6).toISOString(), modifier: 'FIND_FULL' }).target, B.F2);
  });

  test('before a delta without FIND_FULL fails', () => {
    assert.throws(() => planBefore(input(), { target: B.D2b, modifier: 'NONE' }), DeleteRefusedError);
    assert.throws(() => planBefore(input(), { target: startTimeOf(6).toISOString(), modifier: 'NONE' }), /is incremental and it's predecessors cannot be deleted/);
  });

  test('before FULL is rejected; a future time is rejected', () => {
    assert.throws(() => parseBeforeArgs(['FULL', B.F2]), { message: 'unsupported moodifier for delete before command' });
    assert.throws(() => planBefore(input(), { target: B.F2, modifier: 'FULL' }), DeleteRefusedError);
    const future = new Date(NOW.getTime() + 86_400_000).toISOString();
    assert.throws(() => parseBeforeArgs([future], NOW), { message: 'cannot delete before future date' });
    assert.throws(() => planBefore(input(), { target: future, modifier: 'NONE' }), UsageError);
  });

  test('before an unknown name fails; before a time after every backup finds nothing', () => {
    assert.throws(() => planBefore(input(), { target: 'base_0000000100000000000000FF', modifier: 'NONE' }), BackupNotFoundError);
    const plan = planBefore(input(), { target: '2024-05-01T00:00:00Z', modifier: 'NONE' });
    assert.equal(plan.evaluate, false);
    assert.equal(plan.messages.at(-1)?.text, 'No backup found for deletion');
  });

  test('before the oldest non-permanent backup keeps the permanent one and its WAL', () => {
    const plan = planBefore(input(), { target: B.F1, modifier: 'NONE' });
    assertDeletes(plan, [], [walKey(1, 0x01), walKey(1, 0x04)]);
    assertPermanentSurvives(plan);
  });
});

describe('delete everything', () => {
  test('refused while a permanent backup exists', () => {
    assert.throws(() => planEverything(input(), { force: false }), (err: unknown) => err instanceof DeleteRefusedError && err.message === `Found permanent backups=[${B.P}]`);
  });

  test('FORCE deletes every object, permanent ones included', () => {
    const inp = input(BACKUPS, { leftovers: true });
    const plan = planEverything(inp, { force: true });
    assert.deepEqual(marked(plan), [...inp.objects].sort());
    assert.ok(plan.messages.some((m) => m.text === `Found permanent backups=[${B.P}]`));
  });

  test('without permanent backups no FORCE is needed', () => {
    const inp = input(BACKUPS.slice(1));
    assert.deepEqual(marked(planEverything(inp, { force: false })), [...inp.objects].sort());
  });

  test('argument validation', () => {
    assert.deepEqual(parseEverythingArgs([]), { force: false });
    assert.deepEqual(parseEverythingArgs(['FORCE']), { force: true });
    assert.throws(() => parseEverythingArgs(['force']), { message: 'expected to get one of modifiers: [FORCE] as first argument' });
  });
});

describe('delete target', () => {
  const display = (p: DeletePlan) => p.marked.map((m) => m.display).sort();

  test('a full backup goes with every delta depending on it; no WAL is touched', () => {
    const plan = planTarget(input(), { name: B.F2, findFull: false });
    assertDeletes(plan, CHAIN2, []);
    assert.ok(plan.marked.every((m) => m.key.startsWith(BASEBACKUPS_PATH)));
    // compat: names are printed relative to basebackups_005/.
    assert.ok(display(plan).includes(`${B.F2}_backup_stop_sentinel.json`));
    assertPermanentSurvives(plan);
  });

  test('a delta goes with its dependants only', () => {
    assertDeletes(planTarget(input(), { name: B.D2a, findFull: false }), [B.D2a, B.D2b], []);
    assertDeletes(planTarget(input(), { name: B.D3b, findFull: false }), [B.D3b], []);
  });

  test('FIND_FULL deletes every backup sharing the same full base', () => {
    assertDeletes(planTarget(input(), { name: B.D2b, findFull: true }), CHAIN2, []);
    assertDeletes(planTarget(input(), { name: B.F1, findFull: true }), CHAIN1, []);
  });

  test('--target-user-data selects by metadata user data', () => {
    assertDeletes(planTarget(input(), { userData: { y: 4, x: [3] }, findFull: false }), CHAIN2, []);
    assert.throws(() => planTarget(input(), { userData: { x: 1 }, findFull: false }), { message: 'Requested backup was not found' });
  });

  test('LATEST selects the newest sentinel', () => {
    assertDeletes(planTarget(input(), { name: 'LATEST', findFull: false }), [B.D3b], []);
  });

  test('a permanent backup (or the base of a permanent delta) is refused', () => {
    assert.throws(() => planTarget(input(), { name: B.P, findFull: false }), { message: `Unable to delete permanent backup ${B.P}` });
    const list = BACKUPS.map((b) => (b.name === B.D2b ? { ...b, permanent: true } : b));
    assert.throws(() => planTarget(input(list), { name: B.F2, findFull: false }), DeleteRefusedError);
  });

  test('a missing target is an error', () => {
    assert.throws(() => planTarget(input(), { name: full(0x30), findFull: false }), (err: unknown) => err instanceof BackupNotFoundError
      && err.message === `Backup '${full(0x30)}' does not exist.`);
  });

  test('argument validation', () => {
    assert.deepEqual(parseTargetArgs([B.F2]), { findFull: false, name: B.F2, userData: undefined });
    assert.deepEqual(parseTargetArgs(['FIND_FULL', B.F2]), { findFull: true, name: B.F2, userData: undefined });
    assert.deepEqual(parseTargetArgs([], '{"a":1}'), { findFull: false, name: undefined, userData: '{"a":1}' });
    assert.throws(() => parseTargetArgs([]), { message: 'incorrect arguments' });
    assert.throws(() => parseTargetArgs(['FULL', B.F2]), { message: 'incorrect arguments' });
    assert.throws(() => parseTargetArgs([B.F2], '{}'), { message: 'incorrect arguments. Specify target backup name OR target userdata, not both' });
  });
});

describe('delete garbage', () => {
  const OLD_LEFTOVER = LEFTOVERS[0]!;

  test('deletes WAL and leftover folders older than the oldest non-permanent backup; newer leftovers stay', () => {
    const plan = planGarbage(input(BACKUPS, { leftovers: true }), { scope: 'ALL' });
    assert.equal(plan.target, B.F1);
    assert.deepEqual(marked(plan), [OLD_LEFTOVER, walKey(1, 0x01), walKey(1, 0x04)].sort());
    assert.deepEqual(plan.deletedBackups, []);
    assert.ok(plan.messages.some((m) => m.text === `Backup ${B.P} is permanent, it is not eligible to be selected as the oldest backup`));
    assertPermanentSurvives(plan);
  });

  test('ARCHIVES limits it to wal_005/, BACKUPS to basebackups_005/', () => {
    const a = planGarbage(input(BACKUPS, { leftovers: true }), { scope: 'ARCHIVES' });
    assert.deepEqual(marked(a), [walKey(1, 0x01), walKey(1, 0x04)]);
    assert.equal(a.messages[2]?.text, 'Archive-only mode selected. Will remove only outdated WAL files.');
    const b = planGarbage(input(BACKUPS, { leftovers: true }), { scope: 'BACKUPS' });
    assert.deepEqual(marked(b), [OLD_LEFTOVER]);
  });

  test('with only permanent backups it does nothing unless --without-backup-check', () => {
    const only = input([BACKUPS[0]!], { leftovers: true });
    const idle = planGarbage(only, { scope: 'ALL' });
    assert.equal(idle.evaluate, false);
    assert.deepEqual(idle.messages.slice(-2).map((m) => m.text), ["Couldn't find any non-permanent backups in storage.", 'Not doing anything.']);
    const forced = planGarbage(only, { scope: 'ALL', withoutBackupCheck: true });
    const keys = marked(forced);
    assert.ok(keys.includes(walKey(1, 0x10)) && keys.includes(OLD_LEFTOVER));
    assertPermanentSurvives(forced);
  });

  test('refuses when a later backup sorts before the oldest one (timelines reset): it is not garbage', () => {
    const old: FixtureBackup = { name: `base_${wal(2, 0x20)}`, seg: 0x20 };
    const upgraded: FixtureBackup = { name: full(0x05), seg: 0x05 };
    assert.throws(() => planGarbage(input([old, upgraded]), { scope: 'ALL' }), /sorts before the oldest non-permanent backup/);
  });

  test('argument validation', () => {
    assert.deepEqual(parseGarbageArgs([]), { scope: 'ALL' });
    assert.deepEqual(parseGarbageArgs(['BACKUPS']), { scope: 'BACKUPS' });
    assert.throws(() => parseGarbageArgs(['WAL']), { message: 'expected to get one of modifiers: [ARCHIVES BACKUPS] as first argument' });
  });
});

describe('permanence and ordering rules', () => {
  test('a permanent delta keeps its whole chain and the WAL each of them needs', () => {
    const list = BACKUPS.map((b) => (b.name === B.D2a ? { ...b, permanent: true } : b));
    const plan = planRetain(input(list), { count: 1, modifier: 'FIND_FULL' });
    assert.equal(plan.target, B.F3);
    // F2 is kept because D2a needs it; D2b depends on nothing deleted, but is older than F3 and not permanent.
    assertDeletes(plan, [...CHAIN1, B.D2b], [walKey(1, 0x01), ...walRange(0x04, 0x0a), walKey(1, 0x0f), walKey(1, 0x10)]);
    assertPermanentSurvives(plan);
  });

  test('permanence falls back to the sentinel when metadata.json is missing', () => {
    const list = BACKUPS.map((b) => (b.name === B.P ? { ...b, noMetadata: true } : b));
    assertPermanentSurvives(planRetain(input(list), { count: 3, modifier: 'NONE' }));
  });

  test('a kept delta whose base would be deleted makes the delete refuse (never a broken chain)', () => {
    const odd: FixtureBackup[] = [
      { name: B.F1, seg: 0x05 }, { name: B.F2, seg: 0x0b },
      { name: delta(0x0d, 0x05), seg: 0x0d, parent: B.F1, fullName: B.F1 },
    ];
    assert.throws(() => planBefore(input(odd), { target: B.F2, modifier: 'NONE' }), /depends on base_000000010000000000000005/);
  });

  test('before FIND_FULL: an older chain reaching between the full found and the named delta goes with its base', () => {
    // F1 <- D1a, F2, D1b (0x0d, from D1a, between F2 and the target), D2 (0x0f, from F2): the target.
    const d1b = delta(0x0d, 0x07);
    const d2 = delta(0x0f, 0x0b);
    const chains: FixtureBackup[] = [
      { name: B.F1, seg: 0x05 }, { name: B.D1a, seg: 0x07, parent: B.F1, fullName: B.F1 }, { name: B.F2, seg: 0x0b },
      { name: d1b, seg: 0x0d, parent: B.D1a, fullName: B.F1 }, { name: d2, seg: 0x0f, parent: B.F2, fullName: B.F2 },
    ];
    const plan = planBefore(input(chains), { target: d2, modifier: 'FIND_FULL' });
    assert.equal(plan.target, B.F2);
    // What WAL-G deletes (everything before F2), plus D1b; D1b's WAL (after F2) stays for F2 and D2.
    assertDeletes(plan, [B.F1, B.D1a, d1b], walRange(0x01, 0x0a));
    assert.ok(plan.messages.some((m) => m.text === `Backup ${d1b} depends on ${B.D1a}, which is deleted; deleting it too, as it is before ${d2}`));
    // Without FIND_FULL the same cut stays refused; and a chain reaching past the named backup is refused too.
    assert.throws(() => planBefore(input(chains), { target: B.F2, modifier: 'NONE' }), DeleteRefusedError);
    assert.throws(() => planBefore(input(chains), { target: d1b, modifier: 'FIND_FULL' }),
      (err: Error) => err instanceof DeleteRefusedError && /depends on .*it is not before/.test(err.message));
  });

  test('timeline 2 WAL is newer than any timeline 1 backup; a timeline 2 target deletes timeline 1 WAL', () => {
    const plan = planRetain(input(), { count: 3, modifier: 'NONE' });
    for (const s of [0x16, 0x17, 0x18]) assert.ok(!marked(plan).includes(walKey(2, s)));
    assert.ok(!marked(plan).includes(`${WAL_PATH}00000002.history.lz4`));
    const tl2: FixtureBackup = { name: `base_${wal(2, 0x17)}`, seg: 0x17 };
    const withTl2 = input([...BACKUPS, tl2]);
    const p2 = planBefore(withTl2, { target: tl2.name, modifier: 'NONE' });
    const keys = marked(p2);
    assert.ok(keys.includes(walKey(1, 0x15)) && keys.includes(`${WAL_PATH}${wal(1, 0x16)}.partial.lz4`) && keys.includes(walKey(2, 0x16)));
    assert.ok(!keys.includes(walKey(2, 0x17)) && !keys.includes(`${WAL_PATH}00000002.history.lz4`));
    assertPermanentSurvives(p2);
  });

  test('--use-sentinel-time orders by start time instead of timeline + segment (after pg_upgrade)', () => {
    // The old cluster ran on timeline 2; after pg_upgrade the new one starts again on timeline 1 at a lower segment.
    const old: FixtureBackup = { name: `base_${wal(2, 0x20)}`, seg: 0x20 };
    const upgraded: FixtureBackup = { name: full(0x05), seg: 0x05 };
    const inp = input([old, upgraded]);
    assert.equal(planRetain(inp, { count: 1, modifier: 'NONE' }).target, old.name);
    const bySentinel = planRetain({ ...inp, useSentinelTime: true }, { count: 1, modifier: 'NONE' });
    assert.equal(bySentinel.target, upgraded.name);
    assert.ok(bySentinel.deletedBackups.includes(old.name));
  });

  test('deletion order puts every sentinel first', () => {
    const keys = [...keysOf(B.F1, B.F2), walKey(1, 1)].sort();
    const order = deletionOrder(keys);
    assert.deepEqual(order.slice(0, 2).sort(), [sentinelKey(B.F1), sentinelKey(B.F2)].sort());
  });

  test('RFC3339 parsing follows Go: strict layout, zone offsets applied, bad dates refused', () => {
    assert.equal(parseRfc3339('2024-01-01T02:00:00+02:00')?.toISOString(), '2024-01-01T00:00:00.000Z');
    assert.equal(parseRfc3339('2024-01-01T00:00:00.5Z')?.toISOString(), '2024-01-01T00:00:00.500Z');
    assert.equal(parseRfc3339('2024-02-30T00:00:00Z'), undefined);
    assert.equal(parseRfc3339('2024-01-01 00:00:00Z'), undefined);
    assert.equal(parseRfc3339(B.F1), undefined);
  });
});

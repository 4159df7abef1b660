// Object times carry the storage's nanoseconds into JSON and `st ls` (compat: WAL-G prints os.Stat's ModTime; found
// by the interop suite, issue 14).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storedTime } from '../../src/backup/json.ts';
import { goTimeString } from '../../src/commands/render/time.ts';

const ns = 1_764_720_000_123_456_789n;
const d = new Date(Number(ns / 1_000_000n));

test('storedTime prints the nanoseconds when the storage gives them, trailing zeros trimmed', () => {
  assert.equal(storedTime(d, ns), '2025-12-03T00:00:00.123456789Z');
  assert.equal(storedTime(d), '2025-12-03T00:00:00.123Z');
  assert.equal(storedTime(new Date(Number(1_764_720_000_120_000_000n / 1_000_000n)), 1_764_720_000_120_000_000n), '2025-12-03T00:00:00.12Z');
});

test('goTimeString (st ls) prints the nanoseconds too', () => {
  assert.equal(goTimeString(d, ns), '2025-12-03 00:00:00.123456789 +0000 UTC');
  assert.equal(goTimeString(d), '2025-12-03 00:00:00.123 +0000 UTC');
});

// The fuzz targets of test/fuzz (issue 21) for a short budget on every test run, so a parser change that breaks the
// "typed errors only, nothing outside the root" rule fails here too; `make fuzz` runs the long budget. Also checks
// that the planted bug (test/fuzz/planted.ts) is found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTargets } from '../fuzz/targets.ts';
import { plantedTarget } from '../fuzz/planted.ts';
import { fuzz } from '../fuzz/run.ts';

const RUNS = Number(process.env.FUZZ_SMOKE_RUNS ?? 1500);

test('fuzz targets: a short run of each finds nothing', async () => {
  for (const t of await buildTargets()) {
    const r = await fuzz(t, { runs: RUNS, seconds: 30 });
    assert.equal(r.failure, undefined, `${t.name}: ${r.failure}`);
  }
});

test('fuzz: the planted bug (a bounds check removed) is found', async () => {
  const r = await fuzz(plantedTarget, { runs: 100_000, seconds: 60 });
  assert.ok(r.failure, 'the planted out-of-bounds read is found');
  assert.match(r.failure!, /RangeError|ERR_BUFFER_OUT_OF_BOUNDS/);
});

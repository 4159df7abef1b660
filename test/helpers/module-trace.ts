// Test-only preload (node --import): records the URL of every module the process loads, ESM and CommonJS alike,
// and writes the list, one per line, to $WALG_TEST_MODULE_TRACE when the process exits. Used to show which SDKs a
// command really loads (issue #7 acceptance 4) without any hook in the product code.

import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';

const out = process.env.WALG_TEST_MODULE_TRACE;
const seen = new Set<string>();
// Synchronous hooks see both import() and require(), so CommonJS SDKs (ssh2) are recorded too.
registerHooks({
  load(url, context, nextLoad) {
    seen.add(url);
    return nextLoad(url, context);
  },
});
// 'exit' runs on process.exit() too, which is how the CLI ends; only synchronous work is possible there.
process.on('exit', () => { if (out) writeFileSync(out, [...seen].join('\n') + '\n'); });

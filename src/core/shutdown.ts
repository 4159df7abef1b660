// Hooks run by src/cli/entry.ts before process.exit: modules that own threads (the lz4 worker pool) stop them
// cleanly first. Node's exit teardown with live worker threads was seen to hang (2 of ~10 runs of a 2 GiB
// `st cat`, all output already written), which an archive_command or restore_command must never do.

const hooks: Array<() => Promise<unknown>> = [];

/** Registers `fn` to run (once) before the process exits. */
export function onShutdown(fn: () => Promise<unknown>): void {
  hooks.push(fn);
}

/** Runs every hook, each failure ignored, giving up after `timeoutMs` so shutdown can never hang here. */
export async function runShutdownHooks(timeoutMs = 2000): Promise<void> {
  const all = Promise.allSettled(hooks.splice(0).map((fn) => fn()));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); });
  await Promise.race([all, timeout]);
  clearTimeout(timer);
}

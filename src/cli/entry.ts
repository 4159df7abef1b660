// Process entry for both bin/wal-g (from source) and the bundled dist/wal-g. When scripts/build.ts builds the
// single executable's V8 startup snapshot, this module instead evaluates the code every archive_command and
// restore_command call needs and registers start() as the snapshot's main function: each run of dist/wal-g then
// begins with those modules already evaluated instead of compiling and running them again.
import { startupSnapshot } from 'node:v8';
import { main } from './main.ts';

/** Resolves once everything written to `stream` so far has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  // A write callback runs after all earlier writes are flushed; stdout to a pipe is asynchronous in Node.
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) { resolve(); return; }
    stream.write('', () => resolve());
  });
}

/** Runs the CLI on this process's arguments and exits with its code. */
function start(): void {
  // libuv's thread pool runs file I/O, fsync and the lz4 block jobs (src/native): with its default 4 threads, a few
  // fsyncs in flight stall decoding. Set before the pool's first use, unless the user chose a size.
  process.env.UV_THREADPOOL_SIZE ??= '8';
  // A reader that closes stdout early (`| head`) must not turn into an unhandled 'error' event.
  process.stdout.on('error', () => {});
  void main(process.argv.slice(2)).then(async (code) => {
    await flushed(process.stdout);
    // Exit explicitly: SDK keep-alive sockets must not hold the process (archive_command waits for it).
    process.exit(code);
  });
}

/**
 * Modules evaluated into the snapshot: the command tree and the wal-push / wal-fetch path on file storage with lz4
 * and libsodium. Only modules whose top level reads nothing of the environment (no env, clock, CPU count, tmpdir)
 * and imports no lazily loaded chunk (AWS, GCS, Azure, SSH, pg, openpgp, YAML, TOML): the snapshot is made once,
 * on the build machine.
 */
async function preload(): Promise<void> {
  await Promise.all([
    import('./program.ts'),
    import('../commands/pg/wal-push.ts'),
    import('../commands/pg/wal-fetch.ts'),
    import('../commands/pg/wal-prefetch.ts'),
    import('../storage/registry.ts'),
    import('../storage/drivers/fs.ts'),
    import('../storage/wrap/retry.ts'),
    import('../storage/wrap/prefix.ts'),
    import('../pipeline/compress/index.ts'),
    import('../pipeline/compress/lz4.ts'),
    import('../pipeline/crypt/index.ts'),
    import('../pipeline/crypt/libsodium.ts'),
  ]);
}

if (startupSnapshot?.isBuildingSnapshot()) {
  startupSnapshot.setDeserializeMainFunction(start);
  // The snapshot is taken once the event loop is empty, after these imports settled.
  preload().catch((err: unknown) => { console.error(err); process.exitCode = 1; });
} else {
  start();
}

// Process entry for both bin/wal-g (from source) and the bundled dist/wal-g.
import { main } from './main.ts';
import { runShutdownHooks } from '../core/shutdown.ts';

/** Resolves once everything written to `stream` so far has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  // A write callback runs after all earlier writes are flushed; stdout to a pipe is asynchronous in Node.
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) { resolve(); return; }
    stream.write('', () => resolve());
  });
}

// A reader that closes stdout early (`| head`) must not turn into an unhandled 'error' event.
process.stdout.on('error', () => {});

void main(process.argv.slice(2)).then(async (code) => {
  await runShutdownHooks();
  await flushed(process.stdout);
  // Exit explicitly: SDK keep-alive sockets must not hold the process (archive_command waits for it).
  process.exit(code);
});

// Process entry for both bin/wal-g (from source) and the bundled dist/wal-g.
import { main } from './main.ts';

void main(process.argv.slice(2)).then((code) => {
  // Exit explicitly: SDK keep-alive sockets must not hold the process (archive_command waits for it).
  // stdout/stderr writes to pipes and files are synchronous on Linux, so nothing printed is lost.
  process.exit(code);
});

// `wal-g flags`: prints the hidden setting flags (every setting as --lower-dashed-name).
import { SETTINGS, flagName } from '../../config/settings.ts';

/** Prints one line per setting flag, with its default. */
export function run(): void {
  const lines = SETTINGS.map((d) => `  --${flagName(d.name)} string${d.default !== undefined ? ` (default "${d.default}")` : ''}`);
  process.stdout.write(`Hidden setting flags (flag > env > config file > default):\n${lines.join('\n')}\n`);
}

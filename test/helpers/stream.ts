// Shared stream helper of the crypter tests (test/unit/crypt.test.ts, test/integration/crypt-gpg.test.ts).

import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Feeds `input` (in `pieces` of the given size, or whole) through `stream` and collects the output. */
export async function run(stream: Duplex, input: Buffer, piece = 0): Promise<Buffer> {
  const parts: Buffer[] = [];
  async function* source(): AsyncGenerator<Buffer> {
    if (piece <= 0) { if (input.length) yield input; return; }
    for (let i = 0; i < input.length; i += piece) yield input.subarray(i, i + piece);
  }
  await pipeline(Readable.from(source()), stream, new Writable({
    write(chunk: Buffer, _e, cb) { parts.push(chunk); cb(); },
  }));
  return Buffer.concat(parts);
}

// The planted bug of issue 21: a copy of the daemon protocol's header decoder with its length check removed, as a
// careless change would leave it. The fuzzer must find it (an untyped RangeError from reading past the buffer)
// within the budget; `node test/fuzz/run.ts --planted` and test/unit/fuzz.test.ts check that it does.

import fc from 'fast-check';
import { expectTyped } from './targets.ts';
import type { FuzzTarget } from './targets.ts';
import { DaemonProtocolError } from '../../src/pg/daemon/protocol.ts';

/** decodeHeader without `if (header.length < HEADER_SIZE)`: a short header reads out of bounds. */
function plantedDecodeHeader(header: Buffer): { type: string; bodyLength: number } {
  const total = header.readUInt16BE(1);
  if (total < 3) throw new DaemonProtocolError(`message too short: ${total}`);
  return { type: String.fromCharCode(header[0]!), bodyLength: total - 3 };
}

/** Random short buffers into the planted decoder. */
export const plantedTarget: FuzzTarget<Uint8Array> = {
  name: 'planted-daemon-header',
  input: fc.uint8Array({ maxLength: 8 }),
  async run(b: Uint8Array) { await expectTyped(() => plantedDecodeHeader(Buffer.from(b))); },
};

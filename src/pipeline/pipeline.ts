// The one place that orders the data pipeline: plaintext -> compress -> encrypt on write,
// decrypt -> decompress on read (walg-format.md §0). JSON metadata never goes through it.

import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Duplex, Readable } from 'node:stream';
import type { Compressor, Crypter } from './types.ts';

/** The codec pair used for data objects of one run. */
export interface DataPipeline {
  compressor?: Compressor;
  crypter?: Crypter;
}

/** Object name with the compressor's extension (compat: no dot is added when the extension is empty). */
export function withExtension(name: string, compressor?: Compressor): string {
  const ext = compressor?.extension ?? '';
  return ext === '' ? name : `${name}.${ext}`;
}

/** The encoding stages, in order, for a write: compress, then encrypt. */
export function encodeStages(p: DataPipeline): Duplex[] {
  const stages: Duplex[] = [];
  if (p.compressor) stages.push(p.compressor.compress());
  if (p.crypter) stages.push(p.crypter.encrypt());
  return stages;
}

/** The decoding stages, in order, for a read: decrypt, then decompress. */
export function decodeStages(p: DataPipeline): Duplex[] {
  const stages: Duplex[] = [];
  if (p.crypter) stages.push(p.crypter.decrypt());
  if (p.compressor) stages.push(p.compressor.decompress());
  return stages;
}

/**
 * Returns a Readable of `source` passed through the given stages. Errors of any stage destroy the result,
 * so a storage put reading from it fails (and stores nothing) instead of storing a truncated object.
 */
export function through(source: Readable, stages: Duplex[]): Readable {
  if (stages.length === 0) return source;
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  // A stage may fail before the consumer attaches its listeners (a storage driver awaiting mkdir or a connection):
  // without a listener that 'error' event would crash the process. The consumer still sees the error, since
  // pipeline() and async iteration report a stream that is already errored.
  out.on('error', () => {});
  // pipeline() propagates backpressure and tears every stage down on error; the error reaches the consumer
  // through `out`, so whoever reads this stream fails instead of seeing a short, "complete" stream.
  pipeline([source, ...stages, out]).catch((err: unknown) => out.destroy(err as Error));
  return out;
}

// Helpers shared by storage drivers for turning an upload Body into a stream and reading small objects.

import { Readable } from 'node:stream';
import { ObjectNotFoundError } from '../core/errors.ts';
import type { Body, ObjectInfo } from './types.ts';

/** Returns a fresh Readable for a body. A bare Readable is returned as is (single-shot). */
export function openBody(body: Body): Readable {
  if (Buffer.isBuffer(body)) return Readable.from([body]);
  if (typeof body === 'function') return body();
  return body;
}

/** True when a body can be sent again after a failed attempt. */
export function isRewindable(body: Body): boolean {
  return Buffer.isBuffer(body) || typeof body === 'function';
}

/** Reads a whole stream into memory. Only for small objects (sentinels, JSON metadata, tests). */
export async function readAll(stream: Readable | AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/** exists() for drivers whose cheapest existence check is stat(): false on ObjectNotFoundError, other errors rethrown. */
export async function existsByStat(stat: () => Promise<ObjectInfo>): Promise<boolean> {
  try {
    await stat();
    return true;
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return false;
    throw err;
  }
}

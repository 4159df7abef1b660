// `wal-g st check read [files...]` and `st check write`: quick storage health checks.
import { randomBytes } from 'node:crypto';
import type { CommandContext } from '../context.ts';
import { StorageError } from '../../core/errors.ts';
import { log } from '../../core/log.ts';

/** Lists the storage root and checks that every named object exists. */
export async function runRead(ctx: CommandContext, files: string[], opts: { target: string }): Promise<void> {
  const storage = await ctx.storage(opts.target);
  try {
    for await (const _ of storage.list('', { signal: ctx.signal })) break;
  } catch (err) {
    throw new StorageError(`failed to list the storage: ${(err as Error).message}`, { cause: err });
  }
  const missing: string[] = [];
  for (const f of files) if (!(await storage.exists(f).catch(() => false))) missing.push(f);
  if (missing.length) throw new StorageError(`files are missing: ${missing.join(', ')}`);
  log.info('Read check OK');
}

/** Writes a random 32-character object containing "test", then deletes it. */
export async function runWrite(ctx: CommandContext, opts: { target: string }): Promise<void> {
  const storage = await ctx.storage(opts.target);
  let name: string;
  do { name = randomBytes(16).toString('hex'); } while (await storage.exists(name));
  let putErr: unknown;
  try { await storage.put(name, Buffer.from('test'), { signal: ctx.signal }); } catch (err) { putErr = err; }
  try { await storage.delete([name]); } catch { log.warn(`failed to clean temp files, ${name} left in storage`); }
  if (putErr) throw new StorageError(`failed to write to the storage: ${(putErr as Error).message}`, { cause: putErr });
  log.info('Write check OK');
}

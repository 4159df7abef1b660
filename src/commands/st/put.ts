// `wal-g st put <local> <remote>` or `st put -s <remote>`: uploads a file, compressing (name gets the codec's
// extension) and encrypting unless told not to. Refuses to overwrite without -f.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { CommandContext } from '../context.ts';
import { LocalFileError, UsageError, WalgError } from '../../core/errors.ts';
import { through, encodeStages, withExtension } from '../../pipeline/pipeline.ts';

/** Uploads one local file (or stdin) to `remote` plus the compression extension. */
export async function run(ctx: CommandContext, paths: string[],
  opts: { encrypt: boolean; compress: boolean; force: boolean; readStdin: boolean; target: string; glob: boolean }): Promise<void> {
  if (opts.readStdin ? paths.length !== 1 : paths.length !== 2) {
    throw new UsageError(opts.readStdin ? 'st put -s takes exactly one argument: destination_path' : 'st put takes local_path and destination_path');
  }
  const remote = paths[paths.length - 1]!.replace(/^\/+/, '');
  const compressor = opts.compress ? await ctx.compressor() : undefined;
  const crypter = opts.encrypt ? await ctx.crypter() : undefined;
  const key = withExtension(remote, compressor);
  const storage = await ctx.storage(opts.target);
  if (!opts.force && await storage.exists(key)) {
    throw new WalgError(`object ${key} already exists. To overwrite it, add the -f flag`);
  }
  let source;
  if (opts.readStdin) {
    source = process.stdin;
  } else {
    const local = paths[0]!;
    const st = await stat(local).catch(() => { throw new LocalFileError(`open the local file: '${local}' does not exist`); });
    if (st.isDirectory()) throw new LocalFileError(`provided local path (${local}) points to a directory`);
    source = createReadStream(local);
  }
  await storage.put(key, through(source, encodeStages({ compressor, crypter })), { signal: ctx.signal });
}

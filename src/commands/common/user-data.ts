// --add-user-data / WALG_SENTINEL_USER_DATA for the stream-backup pushes (MySQL, Redis): JSON, exact integers, one
// line when malformed.

import type { CommandContext } from '../context.ts';
import { UsageError, describeError } from '../../core/errors.ts';
import { parseJsonExact } from '../../backup/json.ts';

/** The user data to store in the sentinel: the flag, else WALG_SENTINEL_USER_DATA, else undefined. */
export function sentinelUserData(ctx: CommandContext, flag: string | undefined): unknown {
  const raw = flag !== undefined && flag !== '' ? flag : ctx.config.get('WALG_SENTINEL_USER_DATA');
  if (raw === undefined || raw === '') return undefined;
  try { return parseJsonExact(raw); } catch (err) {
    throw new UsageError(`Failed to unmarshal the provided UserData: failed to read the user data as a JSON object: ${describeError(err)}`);
  }
}

// PostgreSQL log sequence numbers: uint64 positions in the WAL, written "X/Y" (two hex halves).

/** An LSN as an exact unsigned 64-bit integer. */
export type Lsn = bigint;

/** Parses "16/B374D848" (as pg_lsn prints it) into an Lsn. Throws TypeError on bad input. */
export function parseLsn(text: string): Lsn {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m) throw new TypeError(`'${text}' is not an LSN (expected X/Y in hex)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Formats an Lsn as PostgreSQL does: upper-case hex halves without padding, e.g. "0/3000028". */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

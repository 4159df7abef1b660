// Go time values as WAL-G stores them (RFC3339 strings from Go's time.Time, in the zone they were written in):
// split into wall-clock fields, and written back the way Go's encoding/json writes a time.Time. Below every
// domain, so both commands (backup-list) and domain code (pg/wal/show.ts) print the same JSON times.

/** compat: Go's zero time.Time as encoding/json writes it. */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** The wall-clock fields of a stored time, in its own zone: `frac` is '' or '.ddd…', `zone` is 'Z' or '±hh:mm'. */
export interface GoWallClock { y: string; mo: string; d: string; h: string; mi: string; se: string; frac: string; zone: string }

/** A stored Go time string split into wall-clock fields, or undefined for the zero time, unset or unparsable. */
export function goWallClock(s: string | undefined): GoWallClock | undefined {
  const m = s ? RFC3339.exec(s) : null;
  if (!m) return undefined;
  // compat: Go's zero time.Time prints as "-" (text) and "0001-01-01T00:00:00Z" (JSON).
  if (`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}` === GO_ZERO_TIME.slice(0, 19) && /^(\.0*)?$/.test(m[7] ?? '') && m[8] === 'Z') return undefined;
  return { y: m[1]!, mo: m[2]!, d: m[3]!, h: m[4]!, mi: m[5]!, se: m[6]!, frac: m[7] ?? '', zone: m[8]! };
}

/** compat: Go's time.Time JSON (RFC3339Nano: trailing fraction zeros dropped); the zero time when unset. */
export function jsonTime(s: string | undefined): string {
  const w = goWallClock(s);
  if (!w) return GO_ZERO_TIME;
  const frac = w.frac.replace(/0+$/, '');
  return `${w.y}-${w.mo}-${w.d}T${w.h}:${w.mi}:${w.se}${frac === '.' ? '' : frac}${w.zone}`;
}

/**
 * compat: Go's time.Time JSON for a local time: RFC3339Nano with the local offset ("Z" when it is zero),
 * fraction trailing zeros removed. `nanos` adds sub-millisecond digits.
 */
export function goLocalTime(d: Date, nanos = 0): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  const frac = `${p(d.getMilliseconds(), 3)}${String(nanos % 1_000_000).padStart(6, '0')}`.replace(/0+$/, '');
  return `${p(d.getFullYear(), 4)}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${frac ? `.${frac}` : ''}${zone}`;
}

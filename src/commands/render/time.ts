// Go time formats the command outputs share: WAL-G's FormatTime and PrettyFormatTime for backup lists, and
// time.Time.String() for `st ls` / `st stat`. JSON times (Go's encoding/json) are in src/core/time.ts.

import { goWallClock } from '../../core/time.ts';

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** compat: internal.FormatTime — RFC3339 (seconds) in the time's own zone, "-" for the zero time. */
export function formatTime(s: string | undefined): string {
  const w = goWallClock(s);
  return w ? `${w.y}-${w.mo}-${w.d}T${w.h}:${w.mi}:${w.se}${w.zone}` : '-';
}

/**
 * compat: internal.PrettyFormatTime — time.RFC850 "Monday, 02-Jan-06 15:04:05 MST", "-" for the zero time.
 * `zoneName` names the zone of a time at offset zero ('Z') when it is not UTC: Azure's object times are 'GMT'.
 */
export function prettyTime(s: string | undefined, zoneName = 'UTC'): string {
  const w = goWallClock(s);
  if (!w) return '-';
  const day = new Date(0);
  day.setUTCFullYear(Number(w.y), Number(w.mo) - 1, Number(w.d));
  // Go prints "UTC" for UTC and, for a parsed numeric offset without a zone name, the -0700 form.
  const zone = w.zone === 'Z' ? zoneName : w.zone.replace(':', '');
  return `${DAYS[day.getUTCDay()]}, ${w.d}-${MONTHS[Number(w.mo) - 1]}-${w.y.slice(2)} ${w.h}:${w.mi}:${w.se} ${zone}`;
}

/**
 * Go's time.Time.String() for a time at offset zero: "2006-01-02 15:04:05.999999999 +0000 UTC" (`ns`: the same time
 * in ns; `zone`: the zone name, 'UTC' unless the storage's timestamps carry another, e.g. Azure's 'GMT').
 */
export function goTimeString(d: Date, ns?: bigint, zone = 'UTC'): string {
  if (d.getTime() === new Date(0).getTime() && !ns) return '0001-01-01 00:00:00 +0000 UTC';
  const iso = d.toISOString();
  // Sub-millisecond digits come from the storage's nanoseconds when it reports them (file storage).
  const frac = `${iso.slice(20, 23)}${ns === undefined ? '' : String(ns % 1_000_000n).padStart(6, '0')}`.replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? `.${frac}` : ''} +0000 ${zone}`;
}

// JSON with exact 64-bit integers and Go encoding/json conventions, for sentinels and metadata written by WAL-G.
// SystemIdentifier and LSNs are uint64: JavaScript numbers lose precision above 2^53, so they travel as bigint.

import { CorruptObjectError } from '../core/errors.ts';

/**
 * Parses stored JSON that must be an object (sentinels, metadata), with exact integers. Throws CorruptObjectError
 * `<name>: not valid JSON` or `<name>: not a JSON object`.
 */
export function parseJsonObject(text: string, name: string): Record<string, unknown> {
  let raw: unknown;
  try { raw = parseJsonExact(text); } catch (err) { throw new CorruptObjectError(`${name}: not valid JSON`, { cause: err }); }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CorruptObjectError(`${name}: not a JSON object`);
  return raw as Record<string, unknown>;
}

/**
 * Parses JSON, turning every integer literal outside the safe-integer range into a bigint (exact).
 * Safe integers stay numbers; callers that need bigint for a field convert with toBigInt().
 */
export function parseJsonExact(text: string): unknown {
  return JSON.parse(text, (_key, value, ctx?: { source?: string }) => {
    if (typeof value === 'number' && !Number.isSafeInteger(value) && ctx?.source && /^-?\d+$/.test(ctx.source)) {
      return BigInt(ctx.source);
    }
    return value;
  });
}

/** Stringifies like Go's encoding/json: bigint as a bare number, no spaces, HTML-significant characters escaped. */
export function stringifyGo(value: unknown, indent?: string): string {
  const s = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? (JSON as unknown as { rawJSON(s: string): unknown }).rawJSON(v.toString()) : v), indent);
  // compat: Go escapes <, > and & in strings by default (SetEscapeHTML(true)).
  return s.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A number or bigint (or numeric string) as bigint; undefined/null stay undefined. */
export function toBigInt(v: unknown): bigint | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  throw new TypeError(`expected an integer, got ${typeof v}`);
}

/**
 * compat: Go's time.Format(time.RFC3339Nano) in UTC: "2006-01-02T15:04:05.999999999Z", trailing zeros of the
 * fraction removed (and the dot too when the fraction is zero). `nanos` adds sub-millisecond precision.
 */
export function rfc3339Nano(d: Date, nanos = 0): string {
  const iso = d.toISOString();
  const frac = `${iso.slice(20, 23)}${String(nanos % 1_000_000).padStart(6, '0')}`.replace(/0+$/, '');
  return `${iso.slice(0, 19)}${frac ? `.${frac}` : ''}Z`;
}

/**
 * An object's LastModified as RFC3339Nano: with the storage's nanoseconds when it reports them (file storage), so
 * the JSON times match WAL-G's, which prints what os.Stat gives it (compat).
 */
export function storedTime(d: Date, ns?: bigint): string {
  return rfc3339Nano(d, ns === undefined ? 0 : Number(ns % 1_000_000n));
}

/** Lower-cases the keys of a plain object (compat: Go's encoding/json v1 matches keys case-insensitively). */
export function lowerKeys(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k.toLowerCase()] = v;
  return out;
}

/** compat: Go encodes map[string]interface{} with sorted keys (recursively); user_data goes through one. */
export function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeysDeep((v as Record<string, unknown>)[k])]));
}

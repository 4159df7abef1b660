// Config file values as WAL-G sees them: viper decodes YAML with go-yaml v3 and JSON with encoding/json, then turns
// every value into a string with spf13/cast. The YAML scalar resolver and the number format here reproduce both, so
// that a file written for WAL-G means the same to us (`0755` is 493, `1_000` is 1000, `1e21` is
// "1000000000000000000000"). No parser is imported here: src/config/yaml-file.ts loads one only for YAML files.

/** compat: go-yaml v3's plain scalars that resolve from a table (resolveMap), not by syntax. */
const RESOLVE_MAP: ReadonlyMap<string, unknown> = new Map<string, unknown>([
  ...['true', 'True', 'TRUE'].map((s) => [s, true] as const),
  ...['false', 'False', 'FALSE'].map((s) => [s, false] as const),
  ...['', '~', 'null', 'Null', 'NULL'].map((s) => [s, null] as const),
  ...['.nan', '.NaN', '.NAN'].map((s) => [s, Number.NaN] as const),
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((s) => [s, Number.POSITIVE_INFINITY] as const),
  ...['-.inf', '-.Inf', '-.INF'].map((s) => [s, Number.NEGATIVE_INFINITY] as const),
]);

/** compat: go-yaml v3's yamlStyleFloat. */
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * compat: Go's strconv.ParseInt(s, 0, 64), then ParseUint(s, 0, 64): a sign (ParseInt only), then 0x / 0o / 0b,
 * a leading 0 (octal) or decimal digits. Undefined when neither accepts `s` (syntax or range).
 */
export function goParseIntBase0(s: string): bigint | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2]!;
  const magnitude = /^0[0-7]+$/.test(body) ? BigInt(`0o${body.slice(1)}`) : BigInt(body.length > 1 && body[0] === '0' ? `0${body[1]!.toLowerCase()}${body.slice(2)}` : body);
  const v = m[1] === '-' ? -magnitude : magnitude;
  if (v >= INT64_MIN && v <= INT64_MAX) return v;
  return m[1] === '' && v <= UINT64_MAX ? v : undefined;
}

/**
 * compat: go-yaml v3's resolve() for an untagged plain scalar: the table above, then (for a leading digit or sign)
 * an integer after removing every '_' (Go base-0 syntax, so `0755` is octal), then a float; else the text.
 * Integers come back as bigint (exact, as Go keeps int64/uint64). A timestamp stays its text (go-yaml would make
 * it a time.Time that cast prints as "2024-01-02 00:00:00 +0000 UTC").
 */
export function resolveYamlPlain(s: string): unknown {
  if (RESOLVE_MAP.has(s)) return RESOLVE_MAP.get(s);
  const c = s[0]!;
  if (c === '.') return /^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(s) ? Number(s) : s;
  if (c === '+' || c === '-' || (c >= '0' && c <= '9')) {
    const plain = s.replaceAll('_', '');
    const i = goParseIntBase0(plain);
    if (i !== undefined) return i;
    if (YAML_STYLE_FLOAT.test(plain)) return Number(plain);
  }
  return s;
}

/**
 * compat: spf13/cast's ToString of a float64 — strconv.FormatFloat(f, 'f', -1, 64): the shortest digits that
 * round-trip, never an exponent ("1000000000000000000000", "0.0000001"); NaN, +Inf, -Inf as Go spells them.
 */
export function goFormatFloat(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  if (Object.is(n, -0)) return '-0';
  const s = String(n);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const digits = m[2]! + (m[3] ?? '');
  const point = 1 + Number(m[4]);
  let out: string;
  if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return m[1]! + out;
}

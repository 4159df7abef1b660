// JSON output conventions of Go that command outputs need beyond src/backup/json.ts's stringifyGo.

/** compat: Go encodes map[string]interface{} with sorted keys (recursively); user_data goes through one. */
export function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeysDeep((v as Record<string, unknown>)[k])]));
}

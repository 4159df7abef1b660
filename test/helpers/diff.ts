// Failure messages for tests that compare long texts (pg_dumpall output, table rows).

/** The first six lines where `actual` differs from `expected`, each cut to 160 characters. */
export function firstDifferences(expected: string, actual: string): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length) && out.length < 6; i++) {
    if (a[i] !== b[i]) out.push(`line ${i + 1}: expected ${JSON.stringify(a[i]?.slice(0, 160))}, got ${JSON.stringify(b[i]?.slice(0, 160))}`);
  }
  return out.join('\n');
}

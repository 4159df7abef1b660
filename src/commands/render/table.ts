// The two table layouts WAL-G's outputs use: Go's text/tabwriter (plain listings) and go-pretty's default style
// (--pretty), exactly as printlist and `st ls` print them.

/**
 * Formats rows like Go's text/tabwriter (min width 0, padding 1, pad ' '): a column is aligned over each
 * run of consecutive lines that have a tab-terminated cell in it; the last cell of a line is not aligned.
 */
export function tabwriter(lines: string[][]): string {
  const width = (col: number, from: number): { end: number; w: number } => {
    let w = 0;
    let i = from;
    while (i < lines.length && lines[i]!.length - 1 > col) { w = Math.max(w, lines[i]![col]!.length); i++; }
    return { end: i, w };
  };
  const out = lines.map((l) => ({ cells: l, parts: [] as string[] }));
  const maxCols = Math.max(0, ...lines.map((l) => l.length));
  for (let col = 0; col < maxCols; col++) {
    let i = 0;
    while (i < lines.length) {
      if (lines[i]!.length - 1 > col) {
        const { end, w } = width(col, i);
        for (let j = i; j < end; j++) out[j]!.parts[col] = lines[j]![col]!.padEnd(w + 1, ' ');
        i = end;
      } else {
        if (lines[i]!.length - 1 === col) out[i]!.parts[col] = lines[i]![col]!;
        i++;
      }
    }
  }
  return out.map((o) => o.parts.join('')).join('\n') + (lines.length ? '\n' : '');
}

/**
 * compat: go-pretty's StyleDefault table as printlist renders it: a "#" column numbering rows from 0 (numeric,
 * so right-aligned, header too), upper-cased headers, '+-|' borders, a rule under the header and at the bottom.
 */
export function prettyTable(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = (v: string | number) => String(v).replaceAll('\t', '    ').replaceAll('\r', '');
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const head = headers.map((h) => h.toUpperCase());
  const width = (s: string) => [...s].length;
  const widths = head.map((h, i) => Math.max(width(h), ...rows.map((r) => width(cells(r[i] ?? '')))));
  const pad = (s: string, i: number) => (numeric[i] ? s.padStart(widths[i]! + s.length - width(s)) : s.padEnd(widths[i]! + s.length - width(s)));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const line = (vals: string[]) => `| ${vals.map((v, i) => pad(v, i)).join(' | ')} |`;
  return [rule, line(head), rule, ...rows.map((r) => line(r.map(cells))), rule].join('\n') + '\n';
}

// Shared output of `st ls` and `st stat`: WAL-G's tab-aligned table "type size last modified name".

import type { ListEntry } from '../../storage/types.ts';

/** Go's time.Time.String() for a UTC time: "2006-01-02 15:04:05.999999999 +0000 UTC". */
export function goTimeString(d: Date): string {
  if (d.getTime() === new Date(0).getTime()) return '0001-01-01 00:00:00 +0000 UTC';
  const iso = d.toISOString();
  const frac = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? `.${frac}` : ''} +0000 UTC`;
}

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

/** Renders entries with names relative to `base` (a folder prefix ending in '/' or ''). */
export function renderListing(entries: ListEntry[], base: string): string {
  const rows: string[][] = [['type', 'size', 'last modified', 'name']];
  for (const e of entries) {
    const name = e.key.startsWith(base) ? e.key.slice(base.length) : e.key;
    // compat: WAL-G prints two more (usually empty) cells: version id and additional info.
    rows.push([e.type, String(e.size), goTimeString(e.lastModified), name, '', '']);
  }
  return tabwriter(rows);
}

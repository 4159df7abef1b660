// Streaming reader of one large JSON object whose big members are objects of many small members (files_metadata.json:
// `Files` and `TarFileSets` with an entry per backed-up file). The text is scanned as it arrives, so neither the
// whole text nor one parsed object per file is ever held: each small member is parsed on its own and handed over.


/** One member found by readJsonMembers: `section` is the lower-cased top-level key it sits under, if expanded. */
export type JsonMember =
  | { section: string; raw: Buffer }
  | { section?: undefined; key: string; value: unknown };

const QUOTE = 0x22, BACKSLASH = 0x5c, LBRACE = 0x7b, RBRACE = 0x7d, LBRACKET = 0x5b, RBRACKET = 0x5d, COMMA = 0x2c;
const KEY_ONLY = /^\s*("(?:[^"\\]|\\.)*")\s*:\s*$/s;

function isBlank(text: Buffer): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false;
  }
  return true;
}

/** Parses `"key": value` (one member's raw text) into [key, value]; throws SyntaxError when it is not one. */
export function parseMember(raw: Buffer | string): [string, unknown] {
  const o = JSON.parse(`{${raw.toString('utf8')}}`) as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length !== 1) throw new SyntaxError(`expected one member, got ${keys.length}`);
  return [keys[0]!, o[keys[0]!]];
}

/**
 * Reads a JSON object from `source` and yields its members in order. A top-level member whose lower-cased key is in
 * `expand` and whose value is an object is not yielded itself: each of its members is, with `section` set, as its
 * raw text (`"key": value`, for parseMember or a faster reader of the caller's; its brackets and strings are
 * balanced). Every other member is yielded parsed. Throws SyntaxError on text that is not one JSON object.
 */
export async function* readJsonMembers(source: AsyncIterable<Buffer | string>, expand: ReadonlySet<string>): AsyncGenerator<JsonMember> {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let started = false;
  let ended = false;
  let section: string | undefined;
  // Raw bytes of the member being read: carried over chunk boundaries in `carry`, the rest a view of the chunk.
  // Bytes, not text: UTF-8 never has a structural byte inside a character, and readers take fresh strings of
  // exactly what they keep from them (a slice of a decoded string would keep its whole chunk alive).
  const EMPTY = Buffer.alloc(0);
  let carry: Buffer = EMPTY;
  const joined = (chunk: Buffer, from: number, to: number): Buffer =>
    carry.length ? Buffer.concat([carry, chunk.subarray(from, to)]) : chunk.subarray(from, to);
  const out: JsonMember[] = [];
  const flush = (text: Buffer) => {
    if (isBlank(text)) return;
    if (section !== undefined) { out.push({ section, raw: text }); return; }
    const [key, value] = parseMember(text);
    out.push({ key, value });
  };
  const scan = (chunk: Buffer) => {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
        continue;
      }
      if (!started || ended) {
        // Only white space around the object.
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) { start = i + 1; continue; }
        if (ended) throw new SyntaxError('text after the end of the object');
        if (c !== LBRACE) throw new SyntaxError('not a JSON object');
        started = true; depth = 1; start = i + 1;
        continue;
      }
      if (c === QUOTE) { inString = true; continue; }
      if (c === LBRACE || c === LBRACKET) {
        depth++;
        if (depth === 2 && c === LBRACE && section === undefined) {
          // A member's value begins: expand it when its key asks for it.
          const m = KEY_ONLY.exec(joined(chunk, start, i).toString('utf8'));
          const key = m ? (JSON.parse(m[1]!) as string).toLowerCase() : undefined;
          if (key !== undefined && expand.has(key)) { section = key; carry = EMPTY; start = i + 1; }
        }
        continue;
      }
      if (c === RBRACE || c === RBRACKET) {
        if (depth === 2 && section !== undefined) {
          if (c !== RBRACE) throw new SyntaxError('unbalanced brackets');
          flush(joined(chunk, start, i));
          carry = EMPTY; start = i + 1; section = undefined; depth = 1;
          continue;
        }
        if (depth === 1) {
          if (c !== RBRACE) throw new SyntaxError('unbalanced brackets');
          flush(joined(chunk, start, i));
          carry = EMPTY; start = i + 1; depth = 0; ended = true;
          continue;
        }
        if (depth <= 0) throw new SyntaxError('unbalanced brackets');
        depth--;
        continue;
      }
      if (c === COMMA && ((depth === 1 && section === undefined) || (depth === 2 && section !== undefined))) {
        flush(joined(chunk, start, i));
        carry = EMPTY; start = i + 1;
        continue;
      }
    }
    // A copy: the chunk's buffer may be reused by the source.
    if (started && !ended && start < chunk.length) carry = Buffer.from(joined(chunk, start, chunk.length));
  };
  for await (const piece of source) {
    scan(typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece);
    yield* out.splice(0);
  }
  if (!ended) throw new SyntaxError(started ? 'unexpected end of JSON' : 'not a JSON object');
}

// PostgreSQL frontend/backend protocol v3 framing for our own replication client: encoding the few frontend
// messages we send, and splitting a byte stream into backend messages without copying the common case (a message
// that lies inside one socket chunk is a subarray of it). Server errors are decoded into their fields.

/** One backend message: its type byte as a character and its body (without type and length). */
export interface BackendMessage {
  type: string;
  body: Buffer;
}

/** An ErrorResponse or NoticeResponse, decoded (field codes as in the protocol: S, V, C, M, D, H ...). */
export interface ServerNotice {
  severity: string;
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

/** Decodes ErrorResponse / NoticeResponse fields. */
export function parseNotice(body: Buffer): ServerNotice {
  const f: Record<string, string> = {};
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const code = String.fromCharCode(body[i]!);
    const end = body.indexOf(0, i + 1);
    if (end < 0) break;
    f[code] = body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return { severity: f.V ?? f.S ?? 'ERROR', code: f.C ?? '', message: f.M ?? '', detail: f.D, hint: f.H };
}

/** compat: a server error as pgx (WAL-G) prints it, `ERROR: <message> (SQLSTATE <code>)`. */
export function noticeText(n: ServerNotice): string {
  return `${n.severity}: ${n.message} (SQLSTATE ${n.code})`;
}

/** A frontend message: type byte (or none, for startup-like messages), Int32 length, body. */
export function frontend(type: string | null, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = type === null ? 0 : 1;
  const out = Buffer.allocUnsafe(head + 4 + body.length);
  if (type !== null) out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + body.length, head);
  body.copy(out, head + 4);
  return out;
}

/** NUL-terminated UTF-8 string. */
export function cstring(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

/** The StartupMessage of protocol 3.0 with the given parameters. */
export function startupMessage(params: Record<string, string>): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 3, 0, 0])];
  for (const [k, v] of Object.entries(params)) parts.push(cstring(k), cstring(v));
  parts.push(Buffer.from([0]));
  return frontend(null, Buffer.concat(parts));
}

/** SSLRequest (80877103). */
export const SSL_REQUEST = (() => { const b = Buffer.alloc(8); b.writeInt32BE(8, 0); b.writeInt32BE(80877103, 4); return b; })();

/** Simple Query. */
export function queryMessage(sql: string): Buffer {
  return frontend('Q', cstring(sql));
}

/** CopyData from the frontend (standby status updates). */
export function copyDataMessage(data: Buffer): Buffer {
  return frontend('d', data);
}

/**
 * Splits a byte stream into backend messages. push() returns the complete messages the new bytes finish. A message
 * inside one chunk is a view of it; one that spans chunks is copied once when its last byte arrives, so the work
 * stays linear whatever the chunk sizes.
 */
export class MessageSplitter {
  private parts: Buffer[] = [];
  private total = 0;

  /** Bytes of a message that is not complete yet. */
  get pendingBytes(): number { return this.total; }

  /** The first `n` pending bytes as one buffer (a view when the first part holds them). */
  private head(n: number): Buffer {
    const first = this.parts[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    for (const p of this.parts) {
      const take = Math.min(p.length, n - off);
      p.copy(out, off, 0, take);
      off += take;
      if (off === n) break;
    }
    return out;
  }

  /** Drops the first `n` pending bytes. */
  private consume(n: number): void {
    this.total -= n;
    let k = 0;
    while (n > 0 && n >= this.parts[k]!.length) n -= this.parts[k++]!.length;
    if (n > 0) this.parts[k] = this.parts[k]!.subarray(n);
    if (k) this.parts.splice(0, k); // once per message, not once per part: linear in the parts
  }

  push(chunk: Buffer): BackendMessage[] {
    if (chunk.length) { this.parts.push(chunk); this.total += chunk.length; }
    const out: BackendMessage[] = [];
    while (this.total >= 5) {
      const h = this.head(5);
      const len = h.readInt32BE(1);
      if (len < 4) throw new Error(`protocol: invalid message length ${len}`);
      if (this.total < 1 + len) break;
      const whole = this.head(1 + len);
      out.push({ type: String.fromCharCode(whole[0]!), body: whole.subarray(5) });
      this.consume(1 + len);
    }
    return out;
  }
}

/** One result set of a simple query: column names and rows of text values (null for SQL NULL). */
export interface ResultSet {
  columns: string[];
  rows: (string | null)[][];
  command?: string;
}

/** RowDescription: the column names. */
export function parseRowDescription(body: Buffer): string[] {
  const n = body.readInt16BE(0);
  const cols: string[] = [];
  let off = 2;
  for (let i = 0; i < n; i++) {
    const end = body.indexOf(0, off);
    cols.push(body.toString('utf8', off, end));
    off = end + 1 + 18; // table oid, attnum, type oid, typlen, typmod, format
  }
  return cols;
}

/** DataRow: the values as text (text format results). */
export function parseDataRow(body: Buffer): (string | null)[] {
  const n = body.readInt16BE(0);
  const vals: (string | null)[] = [];
  let off = 2;
  for (let i = 0; i < n; i++) {
    const len = body.readInt32BE(off);
    off += 4;
    if (len < 0) { vals.push(null); continue; }
    vals.push(body.toString('utf8', off, off + len));
    off += len;
  }
  return vals;
}

/** server_version ("15.10 (Debian ...)", "9.6.24") as server_version_num. */
export function versionNumber(text: string): number {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text.trim());
  if (!m) throw new Error(`cannot read the server version '${text}'`);
  const major = Number(m[1]);
  return major >= 10 ? major * 10000 + Number(m[2] ?? 0) : major * 10000 + Number(m[2] ?? 0) * 100 + Number(m[3] ?? 0);
}

/** A SHOW value with a size unit ("16MB", "8kB") in bytes. */
export function sizeSetting(text: string): number {
  const m = /^(\d+)\s*(B|kB|MB|GB|TB)?$/.exec(text.trim());
  if (!m) throw new Error(`cannot read the size '${text}'`);
  const unit = { B: 1, kB: 1024, MB: 1 << 20, GB: 1 << 30, TB: 2 ** 40 }[m[2] ?? 'B']!;
  return Number(m[1]) * unit;
}

// A minimal Redis client (RESP2 over TCP, node:net) for what backups need from the server: AUTH, SELECT and INFO.
// compat: WAL-G's go-redis client connects to WALG_REDIS_HOST:WALG_REDIS_PORT (localhost:6379) as
// WALG_REDIS_USERNAME ("default") with WALG_REDIS_PASSWORD, database WALG_REDIS_DB (0).

import { Socket } from 'node:net';
import { WalgError } from '../core/errors.ts';

/** How to reach the server. */
export interface RedisConnectionSettings {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
}

/** The server answered with an error reply (e.g. WRONGPASS, NOAUTH) or could not be reached. */
export class RedisClientError extends WalgError {
  override readonly code = 'REDIS_CLIENT';
}

type Reply = string | number | null | Reply[] | RedisReplyError;

/** An error reply ("-ERR ..."), kept as a value so one bad reply does not lose the others. */
class RedisReplyError {
  readonly message: string;
  constructor(message: string) { this.message = message; }
}

/** Parses one RESP2 reply from `buf` at `pos`; undefined when more bytes are needed. */
function parseReply(buf: Buffer, pos: number): { value: Reply; next: number } | undefined {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return undefined;
  const head = buf.toString('utf8', pos + 1, eol);
  switch (String.fromCharCode(buf[pos]!)) {
    case '+': return { value: head, next: eol + 2 };
    case '-': return { value: new RedisReplyError(head), next: eol + 2 };
    case ':': return { value: Number(head), next: eol + 2 };
    case '$': {
      const len = Number(head);
      if (len < 0) return { value: null, next: eol + 2 };
      if (buf.length < eol + 2 + len + 2) return undefined;
      return { value: buf.toString('utf8', eol + 2, eol + 2 + len), next: eol + 2 + len + 2 };
    }
    case '*': {
      const n = Number(head);
      if (n < 0) return { value: null, next: eol + 2 };
      const items: Reply[] = [];
      let at = eol + 2;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, at);
        if (!r) return undefined;
        items.push(r.value);
        at = r.next;
      }
      return { value: items, next: at };
    }
    default: throw new RedisClientError(`redis: unexpected reply type '${String.fromCharCode(buf[pos]!)}'`);
  }
}

function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
  return Buffer.from(parts.join(''));
}

/**
 * Sends `commands` in one pipeline on a fresh connection and returns their replies in order (error replies as
 * RedisClientError values). Throws RedisClientError when the server cannot be reached or the connection breaks.
 */
async function pipelineCommands(s: RedisConnectionSettings, commands: readonly (readonly string[])[], timeoutMs: number): Promise<Array<Reply>> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    let buf: Buffer = Buffer.alloc(0);
    const replies: Reply[] = [];
    const fail = (msg: string) => { sock.destroy(); reject(new RedisClientError(msg)); };
    sock.setTimeout(timeoutMs, () => fail(`redis: no answer from ${s.host}:${s.port} within ${timeoutMs / 1000}s`));
    sock.on('error', (err) => fail(`redis: cannot talk to ${s.host}:${s.port}: ${err.message}`));
    sock.on('close', () => { if (replies.length < commands.length) fail(`redis: ${s.host}:${s.port} closed the connection`); });
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      let pos = 0;
      for (;;) {
        const r = parseReply(buf, pos);
        if (!r) break;
        replies.push(r.value);
        pos = r.next;
      }
      buf = buf.subarray(pos);
      if (replies.length >= commands.length) { sock.end(); resolve(replies); }
    });
    sock.connect(s.port, s.host, () => { sock.write(Buffer.concat(commands.map(encodeCommand))); });
  });
}

/**
 * The INFO sections `sections` of the server (one text per section, "\r\n" lines). Authenticates first when a
 * password is set and selects the database. Throws RedisClientError on a connection problem or an error reply
 * (a wrong password is "WRONGPASS invalid username-password pair ...").
 */
export async function redisInfo(s: RedisConnectionSettings, sections: readonly string[], timeoutMs = 10_000): Promise<string[]> {
  const pre: string[][] = [];
  if (s.password) pre.push(['AUTH', s.username || 'default', s.password]);
  if (s.db !== 0) pre.push(['SELECT', String(s.db)]);
  const replies = await pipelineCommands(s, [...pre, ...sections.map((sec) => ['INFO', sec])], timeoutMs);
  for (const r of replies) if (r instanceof RedisReplyError) throw new RedisClientError(`redis: ${r.message}`);
  return replies.slice(pre.length).map((r) => (typeof r === 'string' ? r : ''));
}

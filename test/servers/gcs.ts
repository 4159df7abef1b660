// A small Google Cloud Storage JSON-API server for tests, on node:http on a free loopback port, with objects in a
// temp dir. It speaks what @google-cloud/storage sends: uploads (media, multipart, resumable sessions with chunked
// PUTs, Content-Range and 308 answers, session cancel), object metadata and media (Range, x-goog-hash), listings
// (prefix, delimiter, maxResults/pageToken pages), deletes and customer-supplied encryption keys. It counts what
// it saw so tests can assert that resumable sessions and listing pages really happened.

import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Counters of requests the server handled, for assertions. */
export interface GcsServerStats {
  mediaUploads: number;
  multipartUploads: number;
  resumableSessions: number;
  /** Chunk PUTs answered with 308 (more data expected). */
  resumableIncomplete: number;
  resumableCompleted: number;
  cancelledSessions: number;
  listPages: number;
  /** Listing pages that came with a pageToken (second page or later). */
  listContinuations: number;
  mediaGets: number;
}

export interface GcsServer {
  /** Base URL for STORAGE_EMULATOR_HOST / apiEndpoint, e.g. http://127.0.0.1:PORT */
  endpoint: string;
  stats: GcsServerStats;
  /** Creates an empty bucket (GCS answers 404 for unknown buckets). */
  createBucket(name: string): void;
  /** Every object name in a bucket, sorted (open resumable sessions are not objects). */
  objectNames(bucket: string): string[];
  /** Number of resumable sessions neither completed nor cancelled. */
  openSessions(): number;
  /** Customer-encryption key hash of a stored object, if it was written with one. */
  keySha256(bucket: string, name: string): string | undefined;
  stop(): Promise<void>;
}

interface Obj {
  file: string;
  size: number;
  md5: string;
  crc32c: string;
  generation: string;
  created: Date;
  updated: Date;
  contentType: string;
  keySha256?: string;
}

interface Session {
  bucket: string;
  name: string;
  file: string;
  out: WriteStream;
  offset: number;
  md5: ReturnType<typeof createHash>;
  crc: number;
  contentType: string;
  keySha256?: string;
}

// CRC32C (Castagnoli), as GCS reports it: big-endian uint32 in base64.
const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

function crc32cUpdate(crc: number, buf: Buffer): number {
  let c = ~crc;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function crcBase64(crc: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc >>> 0);
  return b.toString('base64');
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) { super(message); this.status = status; }
}

function sendJson(res: ServerResponse, status: number, doc: unknown, headers: Record<string, string> = {}): void {
  const body = Buffer.from(JSON.stringify(doc));
  res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8', 'Content-Length': String(body.length), ...headers });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: { code: status, message, errors: [{ message, domain: 'global', reason: status === 404 ? 'notFound' : 'invalid' }] } });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Splits a multipart/related body into its parts' bodies (binary-safe). */
function multipartParts(body: Buffer, boundary: string): Buffer[] {
  const delim = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    const start = pos + delim.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delim, start);
    if (next < 0) break;
    const part = body.subarray(start, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    // The part body ends with the CRLF that precedes the next delimiter.
    parts.push(part.subarray(headerEnd + 4, part.length - 2));
    pos = next;
  }
  return parts;
}

/** Starts the server on 127.0.0.1 with a fresh temp dir; stop() closes it and removes the dir. */
export async function startGcsServer(): Promise<GcsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'walg-gcs-'));
  const buckets = new Map<string, Map<string, Obj>>();
  const sessions = new Map<string, Session>();
  const stats: GcsServerStats = {
    mediaUploads: 0, multipartUploads: 0, resumableSessions: 0, resumableIncomplete: 0, resumableCompleted: 0,
    cancelledSessions: 0, listPages: 0, listContinuations: 0, mediaGets: 0,
  };
  let generation = Date.now() * 1000;
  let endpoint = '';

  const bucketOf = (name: string): Map<string, Obj> => {
    const b = buckets.get(name);
    if (!b) throw new HttpError(404, 'The specified bucket does not exist.');
    return b;
  };

  /** The SHA-256 of a customer-supplied key sent with the request, checked against the key itself. */
  const requestKeySha = (req: IncomingMessage): string | undefined => {
    const key = req.headers['x-goog-encryption-key'];
    if (typeof key !== 'string') return undefined;
    if (req.headers['x-goog-encryption-algorithm'] !== 'AES256') throw new HttpError(400, 'Missing or invalid x-goog-encryption-algorithm.');
    const sha = createHash('sha256').update(Buffer.from(key, 'base64')).digest('base64');
    if (req.headers['x-goog-encryption-key-sha256'] !== sha) throw new HttpError(400, 'The provided encryption key hash does not match the key.');
    return sha;
  };

  const meta = (bucket: string, name: string, o: Obj): Record<string, unknown> => ({
    kind: 'storage#object', id: `${bucket}/${name}/${o.generation}`, name, bucket, generation: o.generation, metageneration: '1',
    contentType: o.contentType, size: String(o.size), md5Hash: o.md5, crc32c: o.crc32c, etag: o.md5,
    timeCreated: o.created.toISOString(), updated: o.updated.toISOString(), storageClass: 'STANDARD',
    ...(o.keySha256 ? { customerEncryption: { encryptionAlgorithm: 'AES256', keySha256: o.keySha256 } } : {}),
  });

  /** Moves a finished upload file into place as the object `name` (replacing any older generation). */
  const commit = async (bucket: string, name: string, file: string, size: number, md5: string, crc: number, contentType: string, keySha256?: string): Promise<Obj> => {
    const b = bucketOf(bucket);
    const now = new Date();
    const o: Obj = { file, size, md5, crc32c: crcBase64(crc), generation: String(++generation), created: now, updated: now, contentType, keySha256 };
    const old = b.get(name);
    b.set(name, o);
    if (old) await rm(old.file, { force: true });
    return o;
  };

  const newFile = () => join(dir, randomBytes(12).toString('hex'));

  const storeBuffer = async (bucket: string, name: string, data: Buffer, contentType: string, keySha256?: string): Promise<Obj> => {
    bucketOf(bucket);
    const file = newFile();
    await new Promise<void>((resolve, reject) => { const w = createWriteStream(file); w.on('error', reject); w.end(data, resolve); });
    return commit(bucket, name, file, data.length, createHash('md5').update(data).digest('base64'), crc32cUpdate(0, data), contentType, keySha256);
  };

  const handleUpload = async (req: IncomingMessage, res: ServerResponse, url: URL, bucket: string): Promise<void> => {
    const type = url.searchParams.get('uploadType');
    const keySha = requestKeySha(req);
    if (req.method === 'POST' && type === 'media') {
      const name = url.searchParams.get('name');
      if (!name) throw new HttpError(400, 'Required parameter: name');
      stats.mediaUploads++;
      const o = await storeBuffer(bucket, name, await readBody(req), String(req.headers['content-type'] ?? 'application/octet-stream'), keySha);
      sendJson(res, 200, meta(bucket, name, o));
      return;
    }
    if (req.method === 'POST' && type === 'multipart') {
      const m = /boundary="?([^";]+)"?/.exec(String(req.headers['content-type'] ?? ''));
      if (!m) throw new HttpError(400, 'multipart upload without a boundary');
      const [metaPart, media] = multipartParts(await readBody(req), m[1]!);
      if (!metaPart || !media) throw new HttpError(400, 'multipart upload needs metadata and media parts');
      const doc = JSON.parse(metaPart.toString() || '{}') as { name?: string; md5Hash?: string; contentType?: string };
      const name = doc.name ?? url.searchParams.get('name');
      if (!name) throw new HttpError(400, 'Required parameter: name');
      const md5 = createHash('md5').update(media).digest('base64');
      // As GCS: a declared MD5 that does not match the received bytes is refused, nothing is stored.
      if (doc.md5Hash && doc.md5Hash !== md5) throw new HttpError(400, 'Provided MD5 hash does not match the calculated MD5 hash of the data.');
      stats.multipartUploads++;
      const o = await storeBuffer(bucket, name, media, doc.contentType ?? 'application/octet-stream', keySha);
      sendJson(res, 200, meta(bucket, name, o));
      return;
    }
    if (req.method === 'POST' && type === 'resumable') {
      const body = await readBody(req);
      const doc = body.length ? JSON.parse(body.toString()) as { name?: string; contentType?: string } : {};
      const name = url.searchParams.get('name') ?? doc.name;
      if (!name) throw new HttpError(400, 'Required parameter: name');
      bucketOf(bucket);
      const id = randomBytes(16).toString('hex');
      const file = newFile();
      const out = createWriteStream(file);
      // A session cancelled while a chunk is still arriving closes its file under the writer; that is expected.
      out.on('error', () => {});
      sessions.set(id, {
        bucket, name, file, out, offset: 0, md5: createHash('md5'), crc: 0,
        contentType: doc.contentType ?? String(req.headers['x-upload-content-type'] ?? 'application/octet-stream'), keySha256: keySha,
      });
      stats.resumableSessions++;
      const location = `${endpoint}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
      res.writeHead(200, { Location: location, 'Content-Length': '0' });
      res.end();
      return;
    }
    const id = url.searchParams.get('upload_id');
    if (id !== null && (req.method === 'PUT' || req.method === 'DELETE')) {
      const s = sessions.get(id);
      if (!s) { await readBody(req); throw new HttpError(404, 'No such upload session (completed, cancelled or unknown).'); }
      if (req.method === 'DELETE') {
        sessions.delete(id);
        s.out.destroy();
        await rm(s.file, { force: true });
        stats.cancelledSessions++;
        res.writeHead(499, { 'Content-Length': '0' });
        res.end();
        return;
      }
      await handleChunk(req, res, id, s);
      return;
    }
    throw new HttpError(400, `unsupported upload request ${req.method} uploadType=${type}`);
  };

  const handleChunk = async (req: IncomingMessage, res: ServerResponse, id: string, s: Session): Promise<void> => {
    const cr = String(req.headers['content-range'] ?? '');
    const m = /^bytes (?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec(cr.trim());
    if (!m) { await readBody(req); throw new HttpError(400, `bad Content-Range '${cr}'`); }
    const total = m[3] === '*' ? undefined : Number(m[3]);
    if (m[1] !== undefined) {
      const first = Number(m[1]);
      const last = Number(m[2]);
      if (first > s.offset) { await readBody(req); throw new HttpError(400, `chunk starts at ${first}, expected ${s.offset}`); }
      let pos = first;
      // Streamed to disk as it arrives: a chunk is never held whole in memory.
      for await (const c of req) {
        let b = c as Buffer;
        // Bytes the server already has (a resent chunk after a lost answer) are skipped.
        if (pos < s.offset) { const skip = Math.min(b.length, s.offset - pos); pos += skip; b = b.subarray(skip); }
        if (b.length === 0) continue;
        if (!sessions.has(id)) continue; // cancelled meanwhile: drain the request, keep nothing
        pos += b.length;
        s.offset += b.length;
        s.md5.update(b);
        s.crc = crc32cUpdate(s.crc, b);
        if (!s.out.write(b)) await new Promise<void>((r) => s.out.once('drain', () => r()));
      }
      if (!sessions.has(id)) throw new HttpError(404, 'The upload session was cancelled.');
      if (pos !== last + 1) throw new HttpError(400, `chunk body of ${pos - first} bytes does not match Content-Range ${cr}`);
    } else {
      await readBody(req);
    }
    if (total !== undefined && s.offset === total) {
      sessions.delete(id);
      await new Promise<void>((resolve, reject) => { s.out.on('error', reject); s.out.end(resolve); });
      const o = await commit(s.bucket, s.name, s.file, s.offset, s.md5.digest('base64'), s.crc, s.contentType, s.keySha256);
      stats.resumableCompleted++;
      sendJson(res, 200, meta(s.bucket, s.name, o));
      return;
    }
    if (total !== undefined && s.offset > total) throw new HttpError(400, 'more bytes than the declared total');
    stats.resumableIncomplete++;
    res.writeHead(308, { ...(s.offset > 0 ? { Range: `bytes=0-${s.offset - 1}` } : {}), 'Content-Length': '0' });
    res.end();
  };

  const handleList = (res: ServerResponse, url: URL, bucket: string): void => {
    const b = bucketOf(bucket);
    const prefix = url.searchParams.get('prefix') ?? '';
    const delimiter = url.searchParams.get('delimiter') ?? '';
    const max = Math.max(1, Math.min(1000, Number(url.searchParams.get('maxResults') ?? 1000)));
    const token = url.searchParams.get('pageToken');
    const after = token ? Buffer.from(token, 'base64url').toString() : undefined;
    stats.listPages++;
    if (token) stats.listContinuations++;
    // Objects and collapsed prefixes in one sorted sequence, so a page boundary is a single position.
    const entries: { name: string; dir: boolean }[] = [];
    const seen = new Set<string>();
    for (const name of [...b.keys()].sort()) {
      if (!name.startsWith(prefix)) continue;
      const i = delimiter ? name.indexOf(delimiter, prefix.length) : -1;
      if (i >= 0) {
        const p = name.slice(0, i + delimiter.length);
        if (!seen.has(p)) { seen.add(p); entries.push({ name: p, dir: true }); }
      } else {
        entries.push({ name, dir: false });
      }
    }
    const start = after === undefined ? 0 : entries.findIndex((e) => e.name > after);
    const page = start < 0 ? [] : entries.slice(start, start + max);
    const more = start >= 0 && start + max < entries.length;
    const items = page.filter((e) => !e.dir).map((e) => meta(bucket, e.name, b.get(e.name)!));
    const prefixes = page.filter((e) => e.dir).map((e) => e.name);
    sendJson(res, 200, {
      kind: 'storage#objects',
      ...(items.length ? { items } : {}),
      ...(prefixes.length ? { prefixes } : {}),
      ...(more ? { nextPageToken: Buffer.from(page.at(-1)!.name).toString('base64url') } : {}),
    });
  };

  const handleObject = async (req: IncomingMessage, res: ServerResponse, url: URL, bucket: string, name: string): Promise<void> => {
    const b = bucketOf(bucket);
    const o = b.get(name);
    if (req.method === 'DELETE') {
      if (!o) throw new HttpError(404, `No such object: ${bucket}/${name}`);
      b.delete(name);
      await rm(o.file, { force: true });
      res.writeHead(204);
      res.end();
      return;
    }
    if (req.method !== 'GET') throw new HttpError(405, `method ${req.method} not supported on objects`);
    if (!o) throw new HttpError(404, `No such object: ${bucket}/${name}`);
    if (url.searchParams.get('alt') !== 'media') { sendJson(res, 200, meta(bucket, name, o)); return; }
    stats.mediaGets++;
    const keySha = requestKeySha(req);
    if (o.keySha256 && !keySha) throw new HttpError(400, 'The target object is encrypted by a customer-supplied encryption key.');
    if (o.keySha256 && keySha !== o.keySha256) throw new HttpError(412, 'The provided encryption key is incorrect.');
    if (!o.keySha256 && keySha) throw new HttpError(400, 'The target object is not encrypted by a customer-supplied encryption key.');
    const headers: Record<string, string> = {
      'Content-Type': o.contentType, 'x-goog-generation': o.generation, 'x-goog-stored-content-encoding': 'identity',
      'x-goog-stored-content-length': String(o.size), 'Last-Modified': o.updated.toUTCString(), ETag: o.md5,
    };
    const range = req.headers.range;
    let start = 0;
    let end = o.size - 1;
    let status = 200;
    if (range) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (!m || (m[1] === '' && m[2] === '')) throw new HttpError(400, `bad Range '${range}'`);
      if (m[1] === '') { start = Math.max(0, o.size - Number(m[2])); } else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(end, Number(m[2]));
      }
      if (start >= o.size) {
        res.writeHead(416, { 'Content-Range': `bytes */${o.size}`, 'Content-Length': '0' });
        res.end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${o.size}`;
    } else {
      headers['x-goog-hash'] = `crc32c=${o.crc32c},md5=${o.md5}`;
    }
    headers['Content-Length'] = String(Math.max(0, end - start + 1));
    res.writeHead(status, headers);
    if (end < start) { res.end(); return; }
    const rs = createReadStream(o.file, { start, end });
    rs.on('error', () => res.destroy());
    rs.pipe(res);
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      // The client uses <endpoint>/storage/v1/... or, with STORAGE_EMULATOR_HOST, <endpoint>/... for API calls.
      const path = url.pathname.replace(/^\/storage\/v1(?=\/)/, '');
      let m: RegExpExecArray | null;
      if ((m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path))) {
        await handleUpload(req, res, url, decodeURIComponent(m[1]!));
      } else if ((m = /^\/b\/([^/]+)\/o$/.exec(path)) && req.method === 'GET') {
        await readBody(req);
        handleList(res, url, decodeURIComponent(m[1]!));
      } else if ((m = /^\/b\/([^/]+)\/o\/(.+)$/.exec(path))) {
        await readBody(req);
        await handleObject(req, res, url, decodeURIComponent(m[1]!), decodeURIComponent(m[2]!));
      } else if ((m = /^\/b\/([^/]+)$/.exec(path)) && req.method === 'GET') {
        await readBody(req);
        bucketOf(decodeURIComponent(m[1]!));
        sendJson(res, 200, { kind: 'storage#bucket', name: decodeURIComponent(m[1]!), id: decodeURIComponent(m[1]!) });
      } else {
        await readBody(req);
        throw new HttpError(404, `no route for ${req.method} ${url.pathname}`);
      }
    })().catch((e: unknown) => {
      if (res.headersSent) { res.destroy(); return; }
      if (e instanceof HttpError) sendError(res, e.status, e.message);
      else sendError(res, 500, (e as Error).message ?? String(e));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint,
    stats,
    createBucket(name: string) { if (!buckets.has(name)) buckets.set(name, new Map()); },
    objectNames(bucket: string) { return [...(buckets.get(bucket)?.keys() ?? [])].sort(); },
    openSessions() { return sessions.size; },
    keySha256(bucket: string, name: string) { return buckets.get(bucket)?.get(name)?.keySha256; },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sessions.values()) s.out.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}


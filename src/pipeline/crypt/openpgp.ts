// WAL-G's OpenPGP crypter (walg-format.md §3.2) on openpgp.js: binary, unsigned, uncompressed SEIPD v1
// messages to every key in the ring; decryption with the ring's private keys. openpgp.js is loaded lazily.

import { Duplex } from 'node:stream';
import { ReadableStream, type ReadableStreamDefaultReader } from 'node:stream/web';
import { ConfigError, CorruptObjectError, DecryptionError, WalgError } from '../../core/errors.ts';
import type { Crypter } from '../types.ts';

type OpenPgp = typeof import('openpgp');
type Key = import('openpgp').Key;
type PrivateKey = import('openpgp').PrivateKey;
type PublicKey = import('openpgp').PublicKey;
type Bytes = ReadableStream<Uint8Array>;

let openpgpModule: Promise<OpenPgp> | undefined;

function loadOpenPgp(): Promise<OpenPgp> {
  // Lazy: the library costs ~50 ms to load, and most commands never touch PGP.
  openpgpModule ??= import('openpgp');
  return openpgpModule;
}

/** Settings as read from WALG_PGP_KEY (or the content of WALG_PGP_KEY_PATH) and WALG_PGP_KEY_PASSPHRASE. */
export interface OpenPgpSettings {
  armoredKey: string;
  passphrase?: string;
  /** How long a stream may sit with no progress while data is wanted before failing (default 15 s). */
  stallTimeoutMs?: number;
}

/** The OpenPGP Crypter, plus ready() to validate the key ring up front (e.g. at configuration time). */
export interface OpenPgpCrypter extends Crypter {
  readonly name: 'openpgp';
  /** Resolves when the key ring parses and every key can encrypt; rejects with ConfigError otherwise. */
  ready(): Promise<void>;
}

/**
 * Maps openpgp.js failures to our error classes. Only a cut-off stream is CorruptObjectError; everything
 * else on decrypt is DecryptionError, because tampered ciphertext surfaces as arbitrary parse errors too.
 */
function mapError(err: unknown, direction: 'encrypt' | 'decrypt', bytesIn: number): Error {
  if (err instanceof WalgError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (direction === 'encrypt') {
    return new WalgError(`OpenPGP encryption failed: ${firstLine(msg)}`, { cause: err });
  }
  if (bytesIn === 0) return new CorruptObjectError('OpenPGP object is empty', { cause: err });
  if (/session key decryption failed|decryption key|no.*(secret|private) key/i.test(msg)) {
    // compat: WAL-G's (go-crypto's ErrKeyIncorrect) text first.
    return new DecryptionError(`failed to init decrypt reader: openpgp: incorrect key (OpenPGP decryption failed: ${firstLine(msg)})`, { cause: err });
  }
  if (/modification detected|checksum/i.test(msg)) {
    return new DecryptionError(`OpenPGP decryption failed (wrong key or modified data): ${firstLine(msg)}`, { cause: err });
  }
  if (/unexpected end|end of (stream|packet|data)|truncat|premature|too short/i.test(msg)) {
    return new CorruptObjectError(`OpenPGP message is truncated: ${firstLine(msg)}`, { cause: err });
  }
  return new DecryptionError(`OpenPGP decryption failed: ${firstLine(msg)}`, { cause: err });
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? '';
}

/** Default for OpenPgpSettings.stallTimeoutMs. */
const DEFAULT_STALL_MS = 15_000;

/** What the bridge hands to the engine: the input as a web stream, and arm() to start stall detection. */
type Engine = (input: Bytes, arm: () => void) => Promise<Bytes>;

/**
 * A Node Duplex around an asynchronous web-stream transformation (openpgp.js works on web streams).
 *
 * Input: a pull-driven web ReadableStream (highWaterMark 0) fed from a single slot. A write's callback
 * runs only when openpgp.js takes the chunk, so a slow consumer stalls openpgp.js, which stops pulling,
 * which holds back the writer: backpressure end to end, memory bounded by the streams' own buffers.
 *
 * Stall watchdog: some malformed (e.g. tampered) SEIPD data puts openpgp.js's unauthenticated streaming
 * mode into a state where it neither asks for input nor produces output nor fails, and with nothing left
 * pending Node would simply exit mid-stream. Once armed, if the consumer wants data, the engine is not
 * waiting for input, and nothing has moved for stallMs, the stream fails with stallError().
 */
class WebStreamBridge extends Duplex {
  readonly #onError: (err: unknown, bytesIn: number) => Error;
  readonly #stallError: () => Error;
  readonly #stallMs: number;
  #slot: { chunk: Buffer; cb: (err?: Error | null) => void } | undefined;
  #feed: (() => void) | undefined; // set while the engine waits for input
  #inputEnded = false;
  #inputCancelled = false;
  #discarded = 0;
  #bytesIn = 0;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #pumping = false;
  #wanted = false;
  #watchdog: NodeJS.Timeout | undefined;
  #lastProgress = 0;

  constructor(run: Engine, onError: (err: unknown, bytesIn: number) => Error, stallError: () => Error, stallMs: number) {
    super();
    this.#onError = onError;
    this.#stallError = stallError;
    this.#stallMs = stallMs;
    const input = new ReadableStream<Uint8Array>({
      pull: (controller) => new Promise<void>((resolve) => {
        const feed = (): void => {
          this.#feed = undefined;
          this.#lastProgress = Date.now();
          const slot = this.#slot;
          if (slot) {
            this.#slot = undefined;
            controller.enqueue(slot.chunk);
            slot.cb();
          } else {
            controller.close();
          }
          resolve();
        };
        if (this.#slot || this.#inputEnded) feed();
        else this.#feed = feed;
      }),
      cancel: () => {
        // The engine gave up on its input; its output reports why. Release a blocked writer meanwhile.
        this.#inputCancelled = true;
        this.#feed = undefined;
        const slot = this.#slot;
        this.#slot = undefined;
        if (slot) { this.#discarded += slot.chunk.length; slot.cb(); }
      },
    }, { highWaterMark: 0 });
    run(input as unknown as Bytes, () => this.#arm()).then(
      (output) => {
        if (this.destroyed) { output.cancel().catch(() => {}); return; }
        this.#reader = output.getReader();
        if (this.#wanted) void this.#pump();
      },
      (err: unknown) => this.destroy(this.#onError(err, this.#bytesIn)),
    );
  }

  #arm(): void {
    if (this.#watchdog || this.destroyed) return;
    this.#lastProgress = Date.now();
    // Deliberately not unref'd: in the stall case this timer is what keeps the process alive to report it.
    this.#watchdog = setInterval(() => {
      if (!this.#wanted || this.#feed) { this.#lastProgress = Date.now(); return; }
      if (Date.now() - this.#lastProgress >= this.#stallMs) this.destroy(this.#stallError());
    }, Math.max(10, Math.floor(this.#stallMs / 4)));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#bytesIn += chunk.length;
    if (this.#inputCancelled) { this.#discarded += chunk.length; cb(); return; }
    this.#slot = { chunk, cb };
    this.#feed?.();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#inputEnded = true;
    this.#feed?.();
    cb();
  }

  override _read(): void {
    this.#wanted = true;
    if (this.#reader && !this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    const reader = this.#reader;
    if (!reader) return;
    this.#pumping = true;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (this.destroyed) return;
        this.#lastProgress = Date.now();
        if (done) {
          // The engine can only finish after reading our end-of-input; finishing earlier (or after
          // cancelling its input) would silently drop data.
          if (!this.writableEnded || this.#discarded > 0) {
            throw new Error('the OpenPGP stream ended before all input was consumed');
          }
          this.#stopWatchdog();
          this.push(null);
          return;
        }
        if (value.byteLength === 0) continue;
        if (!this.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))) {
          this.#wanted = false;
          return;
        }
      }
    } catch (err) {
      this.destroy(this.#onError(err, this.#bytesIn));
    } finally {
      this.#pumping = false;
    }
  }

  #stopWatchdog(): void {
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = undefined;
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.#stopWatchdog();
    this.#reader?.cancel(err ?? undefined).catch(() => {});
    this.#inputCancelled = true;
    const slot = this.#slot;
    this.#slot = undefined;
    slot?.cb();
    cb(err);
  }
}

/** Turns WALG_PGP_KEY's literal "\n" sequences into newlines (harmless for file content, which has none). */
function normalizeArmor(armored: string): string {
  return armored.replace(/\\n/g, '\n');
}

/**
 * A Crypter compatible with WAL-G's OpenPGP mode.
 * encrypt(): binary (not armored), unsigned, uncompressed message to every key in the ring, always SEIPD v1
 *   (MDC) with v3 PKESKs — never AEAD/SEIPDv2, which WAL-G cannot read — streamed with bounded memory.
 * decrypt(): needs a private key in the ring (unlocked with `passphrase` when protected); a public-only
 *   ring, a bad passphrase, a wrong key or modified data fail with DecryptionError, a cut-off message with
 *   CorruptObjectError. Plaintext is streamed before the MDC is checked; the stream errors at the end if
 *   the check fails, so consumers must not treat data as good until the stream ends cleanly.
 * Key parsing is lazy; call ready() to surface a bad key ring (ConfigError) early.
 */
export function createOpenPgpCrypter(settings: OpenPgpSettings): OpenPgpCrypter {
  const armored = normalizeArmor(settings.armoredKey);
  const passphrase = settings.passphrase;
  const stallMs = settings.stallTimeoutMs ?? DEFAULT_STALL_MS;
  let ring: Promise<Key[]> | undefined;
  let encryptionKeys: Promise<PublicKey[]> | undefined;
  let decryptionKeys: Promise<PrivateKey[]> | undefined;

  const readRing = (): Promise<Key[]> => {
    ring ??= (async () => {
      const openpgp = await loadOpenPgp();
      let keys: Key[];
      try {
        keys = await openpgp.readKeys({ armoredKeys: armored });
      } catch (err) {
        // openpgp.js messages describe the parse failure, not key bytes.
        throw new ConfigError(`cannot parse the OpenPGP key (WALG_PGP_KEY / WALG_PGP_KEY_PATH): ${firstLine(String((err as Error)?.message ?? err))}`);
      }
      if (keys.length === 0) throw new ConfigError('the OpenPGP key ring (WALG_PGP_KEY / WALG_PGP_KEY_PATH) holds no key');
      return keys;
    })();
    return ring;
  };

  const getEncryptionKeys = (): Promise<PublicKey[]> => {
    encryptionKeys ??= (async () => {
      const keys = await readRing();
      const publicKeys = keys.map((k) => (k.isPrivate() ? k.toPublic() : k) as PublicKey);
      for (const k of publicKeys) {
        try {
          await k.getEncryptionKey();
        } catch (err) {
          throw new ConfigError(`OpenPGP key ${k.getKeyID().toHex().toUpperCase()} has no usable encryption key: ${firstLine((err as Error).message)}`);
        }
      }
      return publicKeys;
    })();
    return encryptionKeys;
  };

  const getDecryptionKeys = (): Promise<PrivateKey[]> => {
    decryptionKeys ??= (async () => {
      const openpgp = await loadOpenPgp();
      const keys = await readRing();
      const secret = keys.filter((k): k is PrivateKey => k.isPrivate());
      if (secret.length === 0) {
        throw new DecryptionError('the OpenPGP key (WALG_PGP_KEY / WALG_PGP_KEY_PATH) is public only; decryption needs the private key');
      }
      // Like WAL-G, use every private key we can; fail only if none is usable, with the reason.
      const unlocked: PrivateKey[] = [];
      let reason = '';
      for (const k of secret) {
        if (k.isDecrypted()) { unlocked.push(k); continue; }
        if (passphrase === undefined || passphrase === '') {
          reason = 'the OpenPGP private key is passphrase-protected; set WALG_PGP_KEY_PASSPHRASE';
          continue;
        }
        try {
          unlocked.push(await openpgp.decryptKey({ privateKey: k, passphrase }));
        } catch {
          reason = 'cannot unlock the OpenPGP private key: wrong WALG_PGP_KEY_PASSPHRASE';
        }
      }
      if (unlocked.length === 0) throw new DecryptionError(reason);
      return unlocked;
    })();
    return decryptionKeys;
  };

  return {
    name: 'openpgp',

    async ready(): Promise<void> {
      await getEncryptionKeys();
    },

    encrypt(): Duplex {
      return new WebStreamBridge(async (input, arm) => {
        const openpgp = await loadOpenPgp();
        const keys = await getEncryptionKeys();
        arm();
        const config = {
          aeadProtect: false,
          preferredCompressionAlgorithm: openpgp.enums.compression.uncompressed,
        };
        // openpgp.js v6 picks SEIPDv2 (AEAD) whenever every key advertises it, whatever aeadProtect says;
        // choosing the session key ourselves without an AEAD algorithm pins SEIPD v1 + v3 PKESK.
        const sessionKey = await openpgp.generateSessionKey({ encryptionKeys: keys, config });
        const message = await openpgp.createMessage({ binary: input as never, format: 'binary' });
        const out = await openpgp.encrypt({
          message,
          encryptionKeys: keys,
          sessionKey: { data: sessionKey.data, algorithm: sessionKey.algorithm },
          format: 'binary',
          config,
        });
        return out as unknown as Bytes;
      }, (err, n) => mapError(err, 'encrypt', n),
      () => new WalgError('OpenPGP encryption stalled'), stallMs);
    },

    decrypt(): Duplex {
      return new WebStreamBridge(async (input, arm) => {
        const openpgp = await loadOpenPgp();
        // Unlocking keys (S2K) may legitimately take long; the watchdog only covers the streaming part.
        const keys = await getDecryptionKeys();
        arm();
        // Without allowUnauthenticatedStream openpgp.js buffers the whole SEIPD v1 plaintext to check the
        // MDC first, which is unbounded memory for a multi-GB backup. With it, the MDC failure still errors
        // the output stream at its end.
        const config = { allowUnauthenticatedStream: true };
        const message = await openpgp.readMessage({ binaryMessage: input as never, config });
        const result = await openpgp.decrypt({ message, decryptionKeys: keys, format: 'binary', config });
        return result.data as unknown as Bytes;
      }, (err, n) => mapError(err, 'decrypt', n),
      () => new DecryptionError('OpenPGP decryption stalled on malformed data: the object is corrupted or was modified'),
      stallMs);
    },
  };
}

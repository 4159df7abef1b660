// Chooses the crypter from settings in WAL-G's precedence (PGP > envelope PGP > AWS KMS > Yandex KMS > libsodium)
// and lazily imports only the chosen implementation.

import { readFileSync } from 'node:fs';
import { ConfigError, goErrnoText } from '../../core/errors.ts';
import type { Config } from '../../config/load.ts';
import type { Crypter } from '../types.ts';

/** True when any encryption setting is present (used to decide whether to warn or fail early). */
export function encryptionConfigured(config: Config): boolean {
  return (['WALG_PGP_KEY', 'WALG_PGP_KEY_PATH', 'WALG_GPG_KEY_ID', 'WALG_ENVELOPE_PGP_KEY', 'WALG_ENVELOPE_PGP_KEY_PATH',
    'WALG_CSE_KMS_ID', 'YC_CSE_KMS_KEY_ID', 'WALG_LIBSODIUM_KEY', 'WALG_LIBSODIUM_KEY_PATH'] as const).some((k) => config.get(k) !== undefined);
}

/** Returns the configured crypter, or undefined when no encryption is set. Throws ConfigError on bad settings. */
export async function configureCrypter(config: Config): Promise<Crypter | undefined> {
  const pgpKey = config.get('WALG_PGP_KEY');
  const pgpKeyPath = config.get('WALG_PGP_KEY_PATH');
  const envelope = config.get('WALG_ENVELOPE_PGP_KEY') ?? config.get('WALG_ENVELOPE_PGP_KEY_PATH');
  if ((pgpKey || pgpKeyPath) && envelope) throw new ConfigError('WALG_PGP_KEY* and WALG_ENVELOPE_PGP_KEY* cannot be used together');
  if (pgpKey || pgpKeyPath) {
    let armored: string;
    if (pgpKey) {
      // compat: the key may be written on one line with literal "\n" sequences.
      armored = pgpKey.replace(/\\n/g, '\n');
    } else {
      try { armored = readFileSync(pgpKeyPath!, 'utf8'); } catch (err) {
        // compat: Go's os error text, as WAL-G prints it ("open <path>: no such file or directory"), then the setting.
        throw new ConfigError(`open ${pgpKeyPath}: ${goErrnoText(err)} (WALG_PGP_KEY_PATH)`);
      }
    }
    const { createOpenPgpCrypter } = await import('./openpgp.ts');
    return createOpenPgpCrypter({ armoredKey: armored, passphrase: config.get('WALG_PGP_KEY_PASSPHRASE') });
  }
  if (config.get('WALG_GPG_KEY_ID')) {
    throw new ConfigError('WALG_GPG_KEY_ID (legacy external gpg keyring) is not supported; export the key and use WALG_PGP_KEY_PATH');
  }
  if (envelope) throw new ConfigError('envelope PGP encryption (Yandex Cloud KMS) is not supported by this build');
  if (config.get('WALG_CSE_KMS_ID')) throw new ConfigError('AWS KMS client-side encryption (WALG_CSE_KMS_ID) is not supported by this build');
  if (config.get('YC_CSE_KMS_KEY_ID')) throw new ConfigError('Yandex Cloud KMS encryption (YC_CSE_KMS_KEY_ID) is not supported by this build');
  const sodiumKey = config.get('WALG_LIBSODIUM_KEY');
  const sodiumKeyPath = config.get('WALG_LIBSODIUM_KEY_PATH');
  if (sodiumKey || sodiumKeyPath) {
    // compat: WAL-G knows the three names in lower case only.
    const transform = config.get('WALG_LIBSODIUM_KEY_TRANSFORM');
    if (!['none', 'hex', 'base64'].includes(transform)) {
      throw new ConfigError(`WALG_LIBSODIUM_KEY_TRANSFORM must be none, hex or base64, got '${transform}'`);
    }
    const { libsodiumKeyFromSettings, createLibsodiumCrypter } = await import('./libsodium.ts');
    const key = libsodiumKeyFromSettings({ key: sodiumKey, keyPath: sodiumKeyPath, transform: transform as 'none' | 'hex' | 'base64' });
    return createLibsodiumCrypter(key);
  }
  return undefined;
}

// Access tokens and webhook secrets at rest: AES-256-GCM under a key from
// SECRET_KEY, or one generated into the data directory on first start.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Config, ConfigError } from '../config.js';

const VERSION = 'v1';
const KEY_FILE = 'secret.key';

export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** A key given as base64 (44 characters) or hex (64 characters) for 32 bytes. */
  static fromText(text: string, variable = 'SECRET_KEY'): SecretBox {
    const trimmed = text.trim();
    const key = /^[0-9a-f]{64}$/i.test(trimmed)
      ? Buffer.from(trimmed, 'hex')
      : Buffer.from(trimmed, 'base64');
    if (key.length !== 32) {
      throw new ConfigError(variable, 'must be 32 bytes, as 64 hex or 44 base64 characters');
    }
    return new SecretBox(key);
  }

  static generate(): SecretBox {
    return new SecretBox(randomBytes(32));
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [
      VERSION,
      iv.toString('base64url'),
      tag.toString('base64url'),
      body.toString('base64url'),
    ].join(':');
  }

  /** Throws when the text was sealed under another key or was altered. */
  decrypt(sealed: string): string {
    const [version, iv, tag, body] = sealed.split(':');
    if (version !== VERSION || iv === undefined || tag === undefined || body === undefined) {
      throw new Error('not a sealed secret');
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([
      decipher.update(Buffer.from(body, 'base64url')),
      decipher.final(),
    ]).toString('utf8');
  }
}

/**
 * SECRET_KEY when set; otherwise `<DATA_DIR>/secret.key`, created (mode 600)
 * on first start. Several servers on one database must share SECRET_KEY.
 */
export function loadSecretBox(config: Pick<Config, 'secretKey' | 'dataDir'>): SecretBox {
  if (config.secretKey !== null) return SecretBox.fromText(config.secretKey);
  const path = join(config.dataDir, KEY_FILE);
  if (existsSync(path)) return SecretBox.fromText(readFileSync(path, 'utf8'), path);
  mkdirSync(config.dataDir, { recursive: true });
  const key = randomBytes(32).toString('base64');
  // 'wx': two processes starting at once cannot both write a key.
  try {
    writeFileSync(path, `${key}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw error;
    return SecretBox.fromText(readFileSync(path, 'utf8'), path);
  }
  chmodSync(path, 0o600);
  return SecretBox.fromText(key);
}

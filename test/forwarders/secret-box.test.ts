// Sealed secrets: AES-256-GCM round trips, refuses altered text and other
// keys, reads SECRET_KEY as hex or base64, and generates a key file once.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError } from '../../src/config.js';
import { loadSecretBox, SecretBox } from '../../src/forwarders/secret-box.js';
import { tempDir } from '../helpers.js';

const KEY = randomBytes(32);

/** Flips one bit of byte `index` in the sealed text's `part` (1 iv, 2 tag, 3 body). */
function tamper(sealed: string, part: 1 | 2 | 3, index = 0): string {
  const parts = sealed.split(':');
  const bytes = Buffer.from(parts[part] ?? '', 'base64url');
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join(':');
}

describe('SecretBox', () => {
  test('round trip: ASCII, Unicode, empty, long', () => {
    const box = SecretBox.fromText(KEY.toString('hex'));
    for (const plain of ['EAAB-token', 'ключ 🔑 ☃', '', 'x'.repeat(10_000)]) {
      const sealed = box.encrypt(plain);
      assert.match(sealed, /^v1:[\w-]+:[\w-]+:[\w-]*$/);
      assert.ok(!sealed.includes(plain) || plain === '', 'the secret is not visible');
      assert.equal(box.decrypt(sealed), plain);
    }
  });

  test('the same secret seals differently every time (random IV)', () => {
    const box = SecretBox.fromText(KEY.toString('hex'));
    const a = box.encrypt('same');
    const b = box.encrypt('same');
    assert.notEqual(a, b);
    assert.equal(box.decrypt(a), box.decrypt(b));
  });

  test('a flipped bit anywhere (IV, tag, ciphertext) is detected', () => {
    const box = SecretBox.fromText(KEY.toString('hex'));
    const sealed = box.encrypt('EAAB-secret-token');
    for (const part of [1, 2, 3] as const) {
      for (const index of [0, 5]) {
        assert.throws(() => box.decrypt(tamper(sealed, part, index)), `part ${part}[${index}]`);
      }
    }
    const body = sealed.split(':')[3] ?? '';
    assert.throws(() => box.decrypt(`${sealed.slice(0, -body.length)}${body.slice(0, -2)}`));
    assert.equal(box.decrypt(sealed), 'EAAB-secret-token', 'the original still opens');
  });

  test('another key cannot open it', () => {
    const sealed = SecretBox.fromText(KEY.toString('hex')).encrypt('token');
    assert.throws(() => SecretBox.generate().decrypt(sealed));
    assert.throws(() => SecretBox.fromText(randomBytes(32).toString('base64')).decrypt(sealed));
  });

  test('text that is not a sealed secret is refused', () => {
    const box = SecretBox.generate();
    for (const text of ['', 'token', 'v2:a:b:c', 'v1:a:b', 'v1']) {
      assert.throws(() => box.decrypt(text), /not a sealed secret|Invalid|unable|auth/i, text);
    }
  });

  test('SECRET_KEY as 64 hex (any case) or 44 base64 characters: the same key', () => {
    const sealed = SecretBox.fromText(KEY.toString('hex')).encrypt('t');
    for (const text of [
      KEY.toString('hex').toUpperCase(),
      KEY.toString('base64'),
      `  ${KEY.toString('base64')}\n`,
    ]) {
      assert.equal(SecretBox.fromText(text).decrypt(sealed), 't', JSON.stringify(text));
    }
    assert.equal(KEY.toString('base64').length, 44);
  });

  test('keys of another length are refused with a ConfigError naming the variable', () => {
    const bad = [
      '',
      'abcd',
      KEY.toString('hex').slice(0, 62),
      `${KEY.toString('hex')}00`,
      randomBytes(31).toString('base64'),
      randomBytes(33).toString('base64'),
      randomBytes(16).toString('hex'),
      'not a key at all!',
    ];
    for (const text of bad) {
      assert.throws(
        () => SecretBox.fromText(text),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.variable === 'SECRET_KEY' &&
          /32 bytes/.test(error.message),
        JSON.stringify(text),
      );
    }
    assert.throws(
      () => SecretBox.fromText('abcd', '/data/secret.key'),
      (error: unknown) => error instanceof ConfigError && error.variable === '/data/secret.key',
    );
  });
});

describe('loadSecretBox', () => {
  test('SECRET_KEY wins: no key file is written', () => {
    const dir = tempDir();
    try {
      const box = loadSecretBox({ secretKey: KEY.toString('hex'), dataDir: dir.path });
      assert.equal(
        SecretBox.fromText(KEY.toString('base64')).decrypt(box.encrypt('x')),
        'x',
        'the configured key is the one used',
      );
      assert.throws(() => statSync(join(dir.path, 'secret.key')), /ENOENT/);
      assert.throws(
        () => loadSecretBox({ secretKey: 'short', dataDir: dir.path }),
        (error: unknown) => error instanceof ConfigError && error.variable === 'SECRET_KEY',
      );
    } finally {
      dir.remove();
    }
  });

  test('without SECRET_KEY: a key file (mode 600) is generated once, then reused', () => {
    const dir = tempDir();
    try {
      const dataDir = join(dir.path, 'nested', 'data');
      const first = loadSecretBox({ secretKey: null, dataDir });
      const path = join(dataDir, 'secret.key');
      const stat = statSync(path);
      assert.equal(stat.mode & 0o777, 0o600);
      const text = readFileSync(path, 'utf8');
      assert.equal(Buffer.from(text.trim(), 'base64').length, 32);

      const sealed = first.encrypt('EAAB-token');
      const second = loadSecretBox({ secretKey: null, dataDir });
      assert.equal(readFileSync(path, 'utf8'), text, 'the file is not rewritten');
      assert.equal(second.decrypt(sealed), 'EAAB-token');
      assert.equal(first.decrypt(second.encrypt('back')), 'back');
      assert.equal(SecretBox.fromText(text).decrypt(sealed), 'EAAB-token');
    } finally {
      dir.remove();
    }
  });

  test('a damaged key file is refused, naming the file', () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'secret.key');
      writeFileSync(path, 'garbage\n', { mode: 0o600 });
      assert.throws(
        () => loadSecretBox({ secretKey: null, dataDir: dir.path }),
        (error: unknown) => error instanceof ConfigError && error.variable === path,
      );
      assert.equal(readFileSync(path, 'utf8'), 'garbage\n', 'never overwritten');
    } finally {
      dir.remove();
    }
  });
});

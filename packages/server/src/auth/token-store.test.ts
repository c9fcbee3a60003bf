import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TokenStore, TokensFileError } from './token-store.js';

const writeTokens = (content: unknown) => {
  const file = join(mkdtempSync(join(tmpdir(), 'cachegate-tokens-')), 'tokens.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
};

describe('TokenStore', () => {
  it('maps each single-token variable to its scope', () => {
    const store = TokenStore.load({
      token: 'write-token-0123456789',
      readonlyToken: 'read-token-0123456789',
      adminToken: 'admin-token-0123456789',
    });
    expect(store.authenticate('write-token-0123456789')).toEqual({ name: 'default', scope: 'write' });
    expect(store.authenticate('read-token-0123456789')).toEqual({ name: 'readonly', scope: 'read' });
    expect(store.authenticate('admin-token-0123456789')).toEqual({ name: 'admin', scope: 'admin' });
    expect(store.authenticate('write-token-012345678')).toBeUndefined();
    expect(store.authenticate('')).toBeUndefined();
  });

  it('reads named tokens, by value or by SHA-256, with Redis ACL users', () => {
    const hashed = 'hashed-token-0123456789';
    const file = writeTokens([
      { name: 'app', token: 'app-token-0123456789', scope: 'write', redisUser: 'app', redisPassword: 'pw' },
      { name: 'ci', sha256: createHash('sha256').update(hashed).digest('hex'), scope: 'read' },
    ]);
    const store = TokenStore.load({}, file);
    expect(store.size).toBe(2);
    expect(store.authenticate('app-token-0123456789')).toEqual({
      name: 'app',
      scope: 'write',
      redisUser: { username: 'app', password: 'pw' },
    });
    expect(store.authenticate(hashed)).toEqual({ name: 'ci', scope: 'read' });
  });

  it('reports every invalid entry of a tokens file', () => {
    const file = writeTokens([
      { name: 'a', token: 'short', scope: 'write' },
      { name: 'b', scope: 'owner', token: 'b-token-0123456789' },
      { name: 'c', token: 'c-token-0123456789', sha256: 'ab', scope: 'read' },
      { name: 'd', token: 'd-token-0123456789', scope: 'read', extra: true },
    ]);
    expect(() => TokenStore.load({}, file)).toThrow(TokensFileError);
    try {
      TokenStore.load({}, file);
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/0\.token/);
      expect(message).toMatch(/1\.scope/);
      expect(message).toMatch(/2\.sha256/);
      expect(message).toMatch(/3: Unrecognized key/i);
      expect(message).not.toContain('b-token-0123456789');
    }
  });

  it('rejects duplicate names and unreadable files', () => {
    const dup = writeTokens([
      { name: 'same', token: 'one-token-0123456789', scope: 'read' },
      { name: 'same', token: 'two-token-0123456789', scope: 'read' },
    ]);
    expect(() => TokenStore.load({}, dup)).toThrow(/"same" is used twice/);
    expect(() => TokenStore.load({}, writeTokens('{not json'))).toThrow(TokensFileError);
    expect(() => TokenStore.load({}, '/nonexistent/tokens.json')).toThrow(TokensFileError);
  });

  it('rejects one token configured twice with different scopes', () => {
    expect(() =>
      TokenStore.load({ token: 'same-token-0123456789', readonlyToken: 'same-token-0123456789' }),
    ).toThrow(/configured twice/);
  });

  it('swaps tokens in place on reload', () => {
    const store = TokenStore.load({ token: 'old-token-0123456789' });
    store.replaceWith(TokenStore.load({ token: 'new-token-0123456789' }));
    expect(store.authenticate('old-token-0123456789')).toBeUndefined();
    expect(store.authenticate('new-token-0123456789')).toMatchObject({ scope: 'write' });
  });
});

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

  describe('databases (redisUrl)', () => {
    const token = (n: number) => `db-token-${n}-0123456789`;
    const load = (entries: unknown[]) => TokenStore.load({}, writeTokens(entries));
    const problemsOf = (entries: unknown[]): string => {
      try {
        load(entries);
      } catch (error) {
        expect(error).toBeInstanceOf(TokensFileError);
        return (error as Error).message;
      }
      throw new Error('the tokens file was accepted');
    };

    it('gives an entry with redisUrl a database named after the entry, or its "database"', () => {
      const store = load([
        { name: 'ci', token: token(1), scope: 'write', redisUrl: 'redis://127.0.0.1:7001' },
        {
          name: 'b',
          token: token(2),
          scope: 'write',
          redisUrl: 'redis://127.0.0.1:7002',
          database: 'tenant-b',
        },
        { name: 'main', token: token(3), scope: 'write' },
        { name: 'main-too', token: token(4), scope: 'read', database: 'default' },
      ]);
      expect(store.authenticate(token(1))?.database).toMatchObject({
        name: 'ci',
        url: 'redis://127.0.0.1:7001',
      });
      expect(store.authenticate(token(2))?.database?.name).toBe('tenant-b');
      expect(store.authenticate(token(3))?.database).toBeUndefined();
      expect(store.authenticate(token(4))?.database).toBeUndefined();
    });

    it('shares one database between entries with equal settings, or that name it', () => {
      const store = load([
        { name: 'w', token: token(1), scope: 'write', redisUrl: 'redis://:pw@db.internal/0', database: 'ci' },
        { name: 'r', token: token(2), scope: 'read', database: 'ci' },
        { name: 'r2', token: token(3), scope: 'read', redisUrl: 'redis://:pw@DB.internal:6379' },
      ]);
      const [w, r, r2] = [1, 2, 3].map((n) => store.authenticate(token(n))?.database);
      expect(w?.name).toBe('ci');
      expect(r).toBe(w);
      expect(r2).toBe(w);
    });

    it('keeps the connection settings out of JSON, so a logged principal shows no password', () => {
      const store = load([
        {
          name: 'ci',
          token: token(1),
          scope: 'write',
          redisUrl: 'redis://:secret-pw@h:1',
          redisUrlPassword: 'x',
        },
      ]);
      const shown = JSON.stringify(store.authenticate(token(1)));
      expect(shown).toContain('"database":{"name":"ci"}');
      expect(shown).not.toContain('secret-pw');
    });

    it('reports each wrong database field, without echoing the URL', () => {
      const message = problemsOf([
        { name: 'a', token: token(1), scope: 'write', redisUrl: 'http://user:leaked-pw@h' },
        { name: 'b', token: token(2), scope: 'write', redisUrl: 'redis://h', database: 'no spaces' },
        { name: 'c', token: token(3), scope: 'write', redisUrlPassword: 'pw', redisTlsCa: '/ca.pem' },
        { name: 'd', token: token(4), scope: 'write', redisUrl: 'redis://h', redisTlsCa: '/ca.pem' },
        { name: 'e', token: token(5), scope: 'write', redisUrl: 'redis://h/x' },
        { name: 'f', token: token(6), scope: 'write', redisUrl: 'redis://h', database: 'default' },
        { name: 'g', token: token(7), scope: 'write', redisUrl: 'redis://h', redisUrlPassword: 7 },
        { name: 'h', token: token(8), scope: 'write', redisUrl: 'redis://:100%zz@h' },
      ]);
      expect(message).toMatch(/0\.redisUrl: must be a redis:/);
      expect(message).toMatch(/1\.database: must be 1 to 64 letters/);
      expect(message).toMatch(/2: "redisUrlPassword" needs "redisUrl"/);
      expect(message).toMatch(/2: "redisTlsCa" needs "redisUrl"/);
      expect(message).toMatch(/3\.redisTlsCa: needs a rediss:\/\/ redisUrl/);
      expect(message).toMatch(/4\.redisUrl: the path must be a database number/);
      expect(message).toMatch(/5\.database: "default" is the main Redis/);
      expect(message).toMatch(/6\.redisUrlPassword: must be a string/);
      expect(message).toMatch(/7\.redisUrl: the user and password must be percent-encoded/);
      expect(message).not.toContain('leaked-pw');
      expect(message).not.toContain('100%zz');
    });

    it('refuses one name for two Redis servers, two names for one, and names nobody defines', () => {
      const message = problemsOf([
        { name: 'a', token: token(1), scope: 'write', redisUrl: 'redis://h1', database: 'ci' },
        { name: 'b', token: token(2), scope: 'read', redisUrl: 'redis://h2', database: 'ci' },
        { name: 'c', token: token(3), scope: 'read', redisUrl: 'redis://h1', database: 'other' },
        { name: 'd', token: token(4), scope: 'read', database: 'missing' },
      ]);
      expect(message).toMatch(
        /1\.database: "ci" is also the database of entry 0, with other connection settings/,
      );
      expect(message).toMatch(/2\.database: entry 0 gives the same Redis the name "ci"/);
      expect(message).toMatch(/3\.database: no entry gives "missing" a redisUrl/);
    });

    it('reports an unreadable TLS CA file', () => {
      const message = problemsOf([
        {
          name: 'a',
          token: token(1),
          scope: 'write',
          redisUrl: 'rediss://h',
          redisTlsCa: '/nonexistent/ca.pem',
        },
      ]);
      expect(message).toMatch(/0\.redisTlsCa: ENOENT/);
    });
  });
});

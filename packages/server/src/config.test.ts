import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, configHelp, configVariableNames, loadConfig, variableForFlag } from './config.js';

describe('loadConfig', () => {
  it('applies defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      commandTimeoutMs: 2000,
      maxBodyBytes: 10 * 1024 * 1024,
      maxBufferedBodyBytes: 32 * 1024 * 1024,
      maxPipeline: 1000,
      corsOrigins: [],
      backendIdleMs: 300_000,
    });
    expect(config.redisUrl).toBeUndefined();
    expect(config.token).toBeUndefined();
    // Unset: main.ts chooses loopback for a development setup, every interface otherwise.
    expect(config.host).toBeUndefined();
  });

  it("accepts the seed's names as aliases", () => {
    const config = loadConfig({
      REDIS_URL: 'redis://cache:6379/2',
      REDIS_PASSWORD: 'pw-from-env',
      REDIS_SERVICE_API_KEY: 'a-seed-api-key-0000',
    });
    expect(config.redisUrl).toBe('redis://cache:6379/2');
    expect(config.redisPassword).toBe('pw-from-env');
    expect(config.token).toBe('a-seed-api-key-0000');
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', CACHEGATE_TOKEN: '' })).toMatchObject({ port: 8080, token: undefined });
  });

  it('reports every problem at once, naming each variable and hiding secrets', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: '99999',
        CACHEGATE_REDIS_URL: 'http://not-redis',
        CACHEGATE_TOKEN: 'tiny',
        CACHEGATE_COMMAND_TIMEOUT_MS: 'soon',
        CACHEGATE_LOG_LEVEL: 'loud',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(5);
    expect(problems.map((p) => p.split('=')[0])).toEqual([
      'PORT',
      'CACHEGATE_REDIS_URL',
      'CACHEGATE_TOKEN',
      'CACHEGATE_COMMAND_TIMEOUT_MS',
      'CACHEGATE_LOG_LEVEL',
    ]);
    expect((error as Error).message).not.toContain('tiny');
    expect((error as Error).message).toContain('CACHEGATE_TOKEN=(hidden)');
  });

  it('rejects a variable and its alias set to different values', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://a:1', CACHEGATE_REDIS_URL: 'redis://b:2' })).toThrow(
      /CACHEGATE_REDIS_URL and REDIS_URL are both set/,
    );
    expect(loadConfig({ REDIS_URL: 'redis://a:1', CACHEGATE_REDIS_URL: 'redis://a:1' }).redisUrl).toBe(
      'redis://a:1',
    );
  });

  it('reads from replicas only when asked, with the listed replicas of a standalone Redis', () => {
    expect(loadConfig({})).toMatchObject({ readFrom: 'primary', redisReplicas: [], replicaMaxLagMs: 1000 });
    const config = loadConfig({
      CACHEGATE_REDIS_URL: 'redis://primary:6379',
      CACHEGATE_READ_FROM: 'replicas',
      CACHEGATE_REDIS_REPLICAS: 'replica-a:6379,[::1]:6380',
    });
    expect(config.redisReplicas).toEqual([
      { host: 'replica-a', port: 6379 },
      { host: '::1', port: 6380 },
    ]);
    expect(() => loadConfig({ CACHEGATE_READ_FROM: 'nearest' })).toThrow(/CACHEGATE_READ_FROM/);
    expect(() =>
      loadConfig({ CACHEGATE_REDIS_URL: 'redis://primary:6379', CACHEGATE_REDIS_REPLICAS: 'replica-a:6379' }),
    ).toThrow(/needs CACHEGATE_READ_FROM=replicas/);
    // Sentinel and Cluster: only the listed ones of the replicas they announce.
    expect(
      loadConfig({
        CACHEGATE_REDIS_CLUSTER_NODES: 'node:6379',
        CACHEGATE_READ_FROM: 'replicas',
        CACHEGATE_REDIS_REPLICAS: 'replica-a:6379',
      }).redisReplicas,
    ).toEqual([{ host: 'replica-a', port: 6379 }]);
  });

  it('splits CORS origins', () => {
    expect(
      loadConfig({ CACHEGATE_CORS_ORIGINS: 'https://a.example, https://b.example,' }).corsOrigins,
    ).toEqual(['https://a.example', 'https://b.example']);
  });
});

describe('configHelp and flags', () => {
  it('lists every variable with its aliases and defaults', () => {
    const help = configHelp();
    expect(help).toContain('CACHEGATE_REDIS_URL, REDIS_URL');
    expect(help).toContain('CACHEGATE_TOKEN, REDIS_SERVICE_API_KEY');
    expect(help).toContain('(default: 2000)');
  });

  it('maps flags to variables', () => {
    expect(variableForFlag('--redis-url')).toBe('CACHEGATE_REDIS_URL');
    expect(variableForFlag('--port')).toBe('PORT');
    expect(variableForFlag('--command-timeout-ms')).toBe('CACHEGATE_COMMAND_TIMEOUT_MS');
    expect(variableForFlag('--no-such-thing')).toBeUndefined();
  });
});

describe('the README', () => {
  it('documents every variable in its configuration table', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    for (const name of configVariableNames()) expect(readme, name).toContain(`\`${name}\``);
  });
});

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnReadyGateway } from '../../packages/server/test/helpers/gateway.js';
import { startTestRedis, type TestRedis } from '../../packages/server/test/helpers/redis.js';
import { composeConfig, parseYaml } from './helpers/compose.js';
import { freePort, requireTool } from './helpers/tools.js';

/**
 * Every setting of the README's configuration table reaches the gateway from deploy/.env. The table and the
 * Compose file are both read when the test runs, so a setting added to one and not the other fails here.
 */

const repo = fileURLToPath(new URL('../../', import.meta.url));

/** Settings Compose fixes on purpose (compose.yaml says why), with the value it fixes them to. */
const FIXED: Record<string, string> = {
  NODE_ENV: 'production',
  HOST: '0.0.0.0',
  PORT: '8080',
  CACHEGATE_METRICS_PORT: '9464',
};
/** Not passed at all: only the embedded development Redis reads it, and Compose always has a real one. */
const NOT_PASSED = ['CACHEGATE_DATA_DIR'];
/** Given in deploy/.env under another name, shared with another service. */
const RENAMED: Record<string, string> = { CACHEGATE_REDIS_PASSWORD: 'REDIS_PASSWORD' };

/** The variables of the README's "Configuration" table, canonical names only (aliases are in parentheses). */
function tableVariables(): string[] {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('\n## Configuration'),
    readme.indexOf('\n## ', readme.indexOf('\n## Configuration') + 1),
  );
  return section
    .split('\n')
    .map((line) => /^\| `([A-Z][A-Z0-9_]*)`/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

type Service = { environment: Record<string, string>; volumes?: string[]; ports?: unknown[] };

describe.runIf(requireTool('docker-compose', 'docker-compose'))(
  'every configuration setting through deploy/.env',
  () => {
    let scratch: string;
    let variables: string[];
    let gateway: Service;
    /** The distinctive value each setting was given in the .env file. */
    const given = (name: string) => `value-of-${name.toLowerCase()}`;

    beforeAll(() => {
      variables = tableVariables();
      scratch = mkdtempSync(join(tmpdir(), 'cachegate-compose-settings-'));
      const envFile = join(scratch, '.env');
      const lines = variables.map((name) => `${RENAMED[name] ?? name}=${given(name)}`);
      // The secrets Compose demands, at least 16 characters, as the guards want.
      if (!variables.includes('CACHEGATE_TOKEN')) lines.push(`CACHEGATE_TOKEN=${given('CACHEGATE_TOKEN')}`);
      writeFileSync(envFile, `${lines.join('\n')}\nTOKENS_DIR=/srv/cachegate-tokens\n`);
      const config = composeConfig(envFile);
      expect(config.stderr).toBe('');
      expect(config.status).toBe(0);
      gateway = (parseYaml(config.stdout).services as Record<string, Service>).cachegate as Service;
    });
    afterAll(() => rmSync(scratch, { recursive: true, force: true }));

    it('reads the table: the settings it has had from the start are in it', () => {
      expect(variables.length).toBeGreaterThan(30);
      expect(variables).toEqual(
        expect.arrayContaining([
          'PORT',
          'CACHEGATE_REDIS_URL',
          'CACHEGATE_TOKENS_FILE',
          'CACHEGATE_RATE_LIMIT',
          'CACHEGATE_MAX_BODY_BYTES',
        ]),
      );
      // Every exception names a setting that is still in the table.
      for (const name of [...Object.keys(FIXED), ...NOT_PASSED, ...Object.keys(RENAMED)])
        expect(variables).toContain(name);
    });

    it('hands the gateway each setting with the value deploy/.env gives it', () => {
      const missing = variables
        .filter((name) => !(name in FIXED) && !NOT_PASSED.includes(name))
        .filter((name) => gateway.environment[name] !== given(name));
      expect(missing, 'add these to the cachegate service environment in deploy/compose.yaml').toEqual([]);
    });

    it('keeps the fixed settings fixed, whatever deploy/.env says', () => {
      for (const [name, value] of Object.entries(FIXED)) expect(gateway.environment[name], name).toBe(value);
      for (const name of NOT_PASSED) expect(gateway.environment[name], name).toBeUndefined();
    });

    it('mounts the tokens folder read-only where CACHEGATE_TOKENS_FILE points', () => {
      expect(gateway.volumes).toContain('/srv/cachegate-tokens:/etc/cachegate/tokens:ro');
      const example = readFileSync(join(repo, 'deploy', '.env.example'), 'utf8');
      expect(example).toContain('# CACHEGATE_TOKENS_FILE=/etc/cachegate/tokens/tokens.json');
      expect(example).toContain('docker compose -f deploy/compose.yaml kill -s HUP cachegate');
    });

    it('lets a Sentinel or Cluster setup clear the bundled Redis URL with an empty CACHEGATE_REDIS_URL', () => {
      const envFile = join(scratch, 'sentinel.env');
      writeFileSync(
        envFile,
        'REDIS_PASSWORD=redis-pw-test-0123456789\nCACHEGATE_TOKEN=gateway-token-test-0123456789\nCACHEGATE_REDIS_URL=\nCACHEGATE_REDIS_SENTINELS=s1:26379\n',
      );
      const env = (parseYaml(composeConfig(envFile).stdout).services as Record<string, Service>).cachegate
        ?.environment;
      expect(env?.CACHEGATE_REDIS_URL).toBe('');
      expect(env?.CACHEGATE_REDIS_SENTINELS).toBe('s1:26379');
    });
  },
);

describe.runIf(
  requireTool('docker-compose', 'docker-compose') && requireTool('redis-server', 'redis-server'),
)('the gateway started with the environment Compose resolves from .env.example', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis({ password: 'compose-settings-redis-pw' });
  });
  afterAll(() => redis?.stop());

  it('takes the empty settings as their defaults and serves', async () => {
    const resolved = composeConfig(join(repo, 'deploy', '.env.example'));
    const env = (parseYaml(resolved.stdout).services as Record<string, Service>).cachegate?.environment ?? {};
    expect(Object.values(env)).toContain('');
    const token = 'compose-settings-token-0123456789';
    // Only what the container network provides is swapped: Redis's address and free ports; spawnReadyGateway
    // puts PORT and HOST on loopback.
    const { PORT: _port, HOST: _host, ...settings } = env;
    const started = await spawnReadyGateway({
      ...settings,
      CACHEGATE_REDIS_URL: redis.url,
      CACHEGATE_REDIS_PASSWORD: 'compose-settings-redis-pw',
      CACHEGATE_TOKEN: token,
      CACHEGATE_METRICS_PORT: String(await freePort()),
    });
    try {
      const response = await fetch(`${started.base}/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: '["PING"]',
      });
      expect(await response.json()).toEqual({ result: 'PONG' });
    } finally {
      started.child.kill('SIGTERM');
      expect(await started.exited).toBe(0);
    }
  });
});

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../packages/server/src/config.js';
import { spawnReadyGateway } from '../../packages/server/test/helpers/gateway.js';
import { composeConfig, parseYaml } from './helpers/compose.js';
import { freePort, requireTool } from './helpers/tools.js';

const deployDir = fileURLToPath(new URL('../', import.meta.url));

// Distinctive values, so the assertions can tell where each one ends up.
const REDIS_PASSWORD = 'redis-pw-test-Zq81vXk3Lm0Np7Rs';
const TOKEN = 'gateway-token-test-Hf42Bc9Tw6Ye';

type Json = Record<string, unknown>;
interface Service extends Json {
  command?: string[];
  entrypoint?: string[];
  environment: Record<string, string>;
  healthcheck?: { test: string[]; interval?: string };
  ports?: { published: number | string; target: number; host_ip?: string }[] | string[];
  volumes?: string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
}

const readYaml = (path: string) => parseYaml(readFileSync(path, 'utf8'));

describe.runIf(requireTool('docker-compose', 'docker-compose'))('deploy/compose.yaml', () => {
  let scratch: string;
  let services: Record<string, Service>;

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'cachegate-compose-'));
    const envFile = join(scratch, '.env');
    writeFileSync(
      envFile,
      `REDIS_PASSWORD=${REDIS_PASSWORD}\nCACHEGATE_TOKEN=${TOKEN}\nGRAFANA_ADMIN_PASSWORD=grafana-pw-test-0123456789\n`,
    );
    const config = composeConfig(envFile);
    expect(config.stderr).toBe('');
    expect(config.status).toBe(0);
    services = parseYaml(config.stdout).services as Record<string, Service>;
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const service = (name: string): Service => {
    const found = services[name];
    if (!found) throw new Error(`no service ${name}`);
    return found;
  };

  it('validates with .env.example, the file the docs tell people to copy', () => {
    const result = composeConfig(join(deployDir, '.env.example'), ['--profile', 'monitoring']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(Object.keys(parseYaml(result.stdout).services as Json).sort()).toEqual([
      'cachegate',
      'grafana',
      'prometheus',
      'redis',
    ]);
  });

  it('refuses to resolve without the secrets, naming the missing variable', () => {
    const empty = join(scratch, 'empty.env');
    writeFileSync(empty, '');
    const result = composeConfig(empty);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/set (REDIS_PASSWORD|CACHEGATE_TOKEN) in deploy\/\.env/);
  });

  it('publishes the gateway as host 8081 -> container 8080, after Redis is healthy, with its own health check', () => {
    const gateway = service('cachegate');
    expect(gateway.ports).toEqual([{ published: 8081, target: 8080 }]);
    expect(gateway.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
    expect(gateway.healthcheck?.test).toEqual(['CMD', 'node', '/app/healthcheck.mjs', '/livez']);
    expect(gateway.build).toEqual({
      context: join(deployDir, '..').replace(/\/$/, ''),
      dockerfile: 'deploy/Dockerfile',
    });
    expect(gateway.environment).toMatchObject({
      NODE_ENV: 'production',
      CACHEGATE_REDIS_URL: 'redis://redis:6379',
      CACHEGATE_REDIS_PASSWORD: REDIS_PASSWORD,
      CACHEGATE_TOKEN: TOKEN,
      CACHEGATE_METRICS_PORT: '9464',
    });
    // Longer than the gateway's default drain window (CACHEGATE_SHUTDOWN_GRACE_MS=10000).
    expect(gateway.stop_grace_period).toBe('15s');
    expect(gateway.read_only).toBe(true);
    expect(gateway.cap_drop).toEqual(['ALL']);
  });

  it('binds the published port to one address when HOST_PORT carries it (reverse proxy on the host)', () => {
    const envFile = join(scratch, 'proxy.env');
    writeFileSync(
      envFile,
      `REDIS_PASSWORD=${REDIS_PASSWORD}\nCACHEGATE_TOKEN=${TOKEN}\nHOST_PORT=127.0.0.1:8081\n`,
    );
    const config = composeConfig(envFile);
    expect(config.status).toBe(0);
    const gateway = (parseYaml(config.stdout).services as Record<string, Service>).cachegate;
    expect(gateway?.ports).toEqual(['127.0.0.1:8081:8080/tcp']);
  });

  it('keeps Redis off the host network, on an AOF volume, with an authenticated ping as health check', () => {
    const redis = service('redis');
    expect(redis.ports).toBeUndefined();
    expect(redis.volumes).toEqual(['redis-data:/data:rw']);
    expect(redis.image).toMatch(/^redis:/);
    expect(redis.healthcheck?.test).toEqual(['CMD-SHELL', 'redis-cli ping | grep -q PONG']);
    expect(redis.environment.REDISCLI_AUTH).toBe(REDIS_PASSWORD);
    const command = (redis.command ?? []).join(' ');
    expect(command).toContain('--appendonly yes');
    // The password is read from the environment at start, never written into the command or health check.
    expect(command).toContain('--requirepass "$$REDIS_PASSWORD"');
    expect(JSON.stringify([redis.command, redis.healthcheck])).not.toContain(REDIS_PASSWORD);
  });

  it('puts no secret in any command, entrypoint or health check, and none in the repository files', () => {
    for (const svc of Object.values(services)) {
      expect(JSON.stringify([svc.command, svc.entrypoint, svc.healthcheck])).not.toMatch(
        /redis-pw-test|gateway-token-test/,
      );
    }
    for (const file of ['compose.yaml', '.env.example']) {
      const text = readFileSync(join(deployDir, file), 'utf8');
      // Every secret in the example is a placeholder.
      for (const line of text.split('\n')) {
        const match = /^(REDIS_PASSWORD|CACHEGATE_TOKEN|GRAFANA_ADMIN_PASSWORD)=(.*)$/.exec(line);
        if (match) expect(match[2]).toBe('<generate-me>');
      }
    }
  });

  it('runs Prometheus and Grafana only in the monitoring profile, on loopback ports', () => {
    for (const name of ['prometheus', 'grafana']) {
      expect(service(name).profiles).toEqual(['monitoring']);
      expect(service(name).ports).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+:\d+/)]);
    }
  });

  it('wires Prometheus to the metrics listener and Grafana to Prometheus and the dashboard folder', () => {
    const prometheusConfig = readYaml(join(deployDir, 'prometheus', 'prometheus.yml'));
    const jobs = prometheusConfig.scrape_configs as {
      job_name: string;
      static_configs: { targets: string[] }[];
    }[];
    const job = jobs.find((j) => j.job_name === 'cachegate');
    expect(job?.static_configs[0]?.targets).toEqual([
      `cachegate:${service('cachegate').environment.CACHEGATE_METRICS_PORT}`,
    ]);

    const prometheus = service('prometheus');
    const configMount = prometheus.volumes?.find((volume) => volume.includes('prometheus.yml'));
    expect(configMount).toBe(
      `${join(deployDir, 'prometheus', 'prometheus.yml')}:/etc/prometheus/prometheus.yml:ro`,
    );
    expect(prometheus.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    // The rules file sits where prometheus.yml's relative rule_files entry resolves.
    expect(prometheusConfig.rule_files).toEqual(['alerts.yml']);
    expect(prometheus.volumes).toContain(
      `${join(deployDir, 'prometheus', 'alerts.yml')}:/etc/prometheus/alerts.yml:ro`,
    );

    const datasources = readYaml(join(deployDir, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'));
    expect(datasources.datasources).toEqual([
      expect.objectContaining({ uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090' }),
    ]);
    const dashboards = readYaml(join(deployDir, 'grafana', 'provisioning', 'dashboards', 'cachegate.yml'));
    const provider = (dashboards.providers as { options: { path: string } }[])[0];
    const grafanaMounts = service('grafana').volumes ?? [];
    expect(grafanaMounts).toContain(`${join(deployDir, 'grafana')}:${provider?.options.path}:ro`);
    expect(grafanaMounts).toContain(
      `${join(deployDir, 'grafana', 'provisioning')}:/etc/grafana/provisioning:ro`,
    );
  });
});

/** Runs a service's `sh -c` command the way the container would, with $$ already turned into $. */
function containerScript(svc: Service, key: 'command' | 'entrypoint'): string {
  const argv = svc[key] ?? [];
  expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
  return (argv[2] ?? '').replaceAll('$$', '$');
}

describe.runIf(
  requireTool('docker-compose', 'docker-compose') && requireTool('redis-server', 'redis-server'),
)('the Redis service as configured, run on a real redis-server', () => {
  let scratch: string;
  let redis: Service;
  let grafana: Service;
  let gateway: Service;

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'cachegate-compose-redis-'));
    const envFile = join(scratch, '.env');
    writeFileSync(envFile, `REDIS_PASSWORD=${REDIS_PASSWORD}\nCACHEGATE_TOKEN=${TOKEN}\n`);
    const all = parseYaml(composeConfig(envFile).stdout).services as Record<string, Service>;
    redis = all.redis as Service;
    grafana = all.grafana as Service;
    gateway = all.cachegate as Service;
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** A bin folder where docker-entrypoint.sh starts the real redis-server on `port`, and redis-cli targets it. */
  const fakeImage = (port: number) => {
    const bin = mkdtempSync(join(scratch, 'bin-'));
    const data = mkdtempSync(join(scratch, 'data-'));
    writeFileSync(
      join(bin, 'docker-entrypoint.sh'),
      `#!/bin/sh\nexec "$@" --port ${port} --dir ${data} --bind 127.0.0.1\n`,
    );
    writeFileSync(
      join(bin, 'redis-cli'),
      `#!/bin/sh\nexec "$(command -v -p redis-cli || echo /usr/bin/redis-cli)" -p ${port} "$@"\n`,
    );
    chmodSync(join(bin, 'docker-entrypoint.sh'), 0o755);
    chmodSync(join(bin, 'redis-cli'), 0o755);
    return { bin, data };
  };

  it('starts with the password, answers the health check only when it authenticates, and writes an AOF', async () => {
    const port = await freePort();
    const { bin, data } = fakeImage(port);
    const path = `${bin}:${process.env.PATH ?? ''}`;
    const server = spawn('sh', ['-c', containerScript(redis, 'command')], {
      env: { PATH: path, ...redis.environment },
      stdio: 'ignore',
    });
    try {
      const health = (auth: string) =>
        spawnSync('sh', ['-c', redis.healthcheck?.test[1] ?? 'false'], {
          env: { PATH: path, REDISCLI_AUTH: auth },
          encoding: 'utf8',
        });
      const deadline = Date.now() + 10_000;
      while (health(REDIS_PASSWORD).status !== 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const healthy = health(REDIS_PASSWORD);
      expect(healthy.status).toBe(0);
      expect(healthy.stdout + healthy.stderr).toBe('');
      expect(health('wrong-password-0123456789').status).not.toBe(0);
      const aof = spawnSync('redis-cli', ['CONFIG', 'GET', 'appendonly'], {
        env: { PATH: path, REDISCLI_AUTH: REDIS_PASSWORD },
        encoding: 'utf8',
      });
      expect(aof.stdout.split('\n').map((line) => line.trim())).toContain('yes');
      expect(readFileSync(join(data, 'appendonlydir', 'appendonly.aof.manifest'), 'utf8')).toContain(
        'appendonly.aof',
      );
    } finally {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
    }
  });

  it("keeps busy-reply-threshold at the gateway's command timeout, so a stock start warns of nothing", async () => {
    const port = await freePort();
    const { bin } = fakeImage(port);
    const path = `${bin}:${process.env.PATH ?? ''}`;
    const server = spawn('sh', ['-c', containerScript(redis, 'command')], {
      env: { PATH: path, ...redis.environment },
      stdio: 'ignore',
    });
    const redisCli = (...args: string[]) =>
      spawnSync('redis-cli', args, { env: { PATH: path, REDISCLI_AUTH: REDIS_PASSWORD }, encoding: 'utf8' });
    try {
      const deadline = Date.now() + 10_000;
      while (!redisCli('PING').stdout.includes('PONG') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const threshold = redisCli('CONFIG', 'GET', 'busy-reply-threshold').stdout.trim().split('\n')[1];
      // Unset in deploy/.env, both take the gateway's own default command timeout.
      expect(gateway.environment.CACHEGATE_COMMAND_TIMEOUT_MS).toBe('');
      expect(Number(threshold)).toBe(loadConfig({}).commandTimeoutMs);
      // The gateway, started with the environment Compose gives it, finds nothing to warn about.
      const { PORT: _port, HOST: _host, ...settings } = gateway.environment;
      const started = await spawnReadyGateway({
        ...settings,
        CACHEGATE_REDIS_URL: `redis://127.0.0.1:${port}`,
        CACHEGATE_METRICS_PORT: String(await freePort()),
        CACHEGATE_LOG_LEVEL: 'warn',
      });
      try {
        await new Promise((r) => setTimeout(r, 300));
        expect(started.output()).not.toContain('busy-reply-threshold');
        expect(started.output()).not.toContain('"level":40');
      } finally {
        started.child.kill('SIGTERM');
        await started.exited;
      }
    } finally {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
    }
  });

  it('passes CACHEGATE_COMMAND_TIMEOUT_MS to Redis as its busy-reply-threshold', () => {
    const envFile = join(scratch, 'timeout.env');
    writeFileSync(
      envFile,
      `REDIS_PASSWORD=${REDIS_PASSWORD}\nCACHEGATE_TOKEN=${TOKEN}\nCACHEGATE_COMMAND_TIMEOUT_MS=3500\n`,
    );
    const all = parseYaml(composeConfig(envFile).stdout).services as Record<string, Service>;
    expect(all.cachegate?.environment.CACHEGATE_COMMAND_TIMEOUT_MS).toBe('3500');
    expect(all.redis?.environment.BUSY_REPLY_THRESHOLD_MS).toBe('3500');
    expect(containerScript(all.redis as Service, 'command')).toContain(
      '--busy-reply-threshold "$BUSY_REPLY_THRESHOLD_MS"',
    );
  });

  it('refuses to start Redis or Grafana with the placeholder from .env.example', () => {
    const { bin } = fakeImage(1);
    const redisRun = spawnSync('sh', ['-c', containerScript(redis, 'command')], {
      env: { PATH: `${bin}:${process.env.PATH ?? ''}`, REDIS_PASSWORD: '<generate-me>' },
      encoding: 'utf8',
    });
    expect(redisRun.status).toBe(1);
    expect(redisRun.stderr).toContain('REDIS_PASSWORD is not set to a generated secret');
    const grafanaRun = spawnSync('sh', ['-c', containerScript(grafana, 'entrypoint')], {
      env: { PATH: process.env.PATH ?? '', GF_SECURITY_ADMIN_PASSWORD: '<generate-me>' },
      encoding: 'utf8',
    });
    expect(grafanaRun.status).toBe(1);
    expect(grafanaRun.stderr).toContain('GRAFANA_ADMIN_PASSWORD is not set to a generated secret');
    // A real password passes the guard and reaches Grafana's own entrypoint (absent here: 127).
    const passes = spawnSync('sh', ['-c', containerScript(grafana, 'entrypoint')], {
      env: { PATH: process.env.PATH ?? '', GF_SECURITY_ADMIN_PASSWORD: 'grafana-pw-test-0123456789' },
      encoding: 'utf8',
    });
    expect(passes.stderr).not.toContain('GRAFANA_ADMIN_PASSWORD');
    expect(passes.status).toBe(127);
  });
});

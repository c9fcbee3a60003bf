import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../../packages/server/test/helpers/gateway.js';
import { startTestRedis, type TestRedis } from '../../packages/server/test/helpers/redis.js';
import { parseYaml } from './helpers/compose.js';
import { requireTool } from './helpers/tools.js';

/**
 * The alert rules ship as deploy/prometheus/alerts.yml, which the monitoring profile's Prometheus loads.
 * promtool (Debian's `prometheus` package) checks the file and runs its unit tests; a real gateway shows
 * that every metric the rules read exists, so a renamed metric cannot silence an alert.
 */

const prometheusDir = fileURLToPath(new URL('../prometheus/', import.meta.url));
const repo = fileURLToPath(new URL('../../', import.meta.url));
const rulesFile = join(prometheusDir, 'alerts.yml');

interface Rule {
  alert: string;
  expr: string;
}
const rules = () =>
  ((parseYaml(readFileSync(rulesFile, 'utf8')).groups as { rules: Rule[] }[]) ?? []).flatMap(
    (group) => group.rules,
  );

const promtool = (...args: string[]) =>
  spawnSync('promtool', args, { cwd: repo, encoding: 'utf8', timeout: 60_000 });

describe.runIf(requireTool('promtool', 'prometheus'))('deploy/prometheus with promtool', () => {
  it('prometheus.yml is valid and loads the rules file', () => {
    const result = promtool('check', 'config', join(prometheusDir, 'prometheus.yml'));
    expect(result.stdout + result.stderr).toContain('SUCCESS: 1 rule files found');
    expect(result.status, result.stdout + result.stderr).toBe(0);
  });

  it('alerts.yml passes its unit tests: each alert fires when it should and only then', () => {
    const result = promtool('test', 'rules', join(repo, 'deploy', 'test', 'prometheus', 'alerts.test.yml'));
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  let redis: TestRedis;
  let gateway: TestGateway;
  beforeAll(async () => {
    redis = await startTestRedis();
    gateway = await startGateway(redis.url);
  });
  afterAll(async () => {
    await gateway?.close();
    await redis?.stop();
  });

  it('reads only metrics the gateway exports', async () => {
    const text = await (await gateway.request('/metrics')).text();
    const exported = new Set<string>();
    for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exported.add(name as string);
      if (type === 'histogram')
        for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${name}${suffix}`);
    }
    const named = rules().flatMap((rule) => [...rule.expr.matchAll(/\b(?:cachegate|nodejs|process)_\w+/g)]);
    expect(named.length).toBeGreaterThan(5);
    for (const [name] of named) expect(exported, `${name} in alerts.yml`).toContain(name);
  });

  it('is the set of alerts docs/operations.md explains, and the guide no longer keeps a copy', () => {
    const guide = readFileSync(join(repo, 'docs', 'operations.md'), 'utf8');
    const explained = [...guide.matchAll(/^\*\*(\w+)\.\*\*/gm)].map(([, name]) => name);
    expect(explained.sort()).toEqual(
      rules()
        .map((rule) => rule.alert)
        .sort(),
    );
    expect(guide).toContain('deploy/prometheus/alerts.yml');
    expect(guide).not.toMatch(/^\s+- alert: /m);
  });
});

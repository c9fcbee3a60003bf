import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseYaml } from './helpers/compose.js';
import { requireTool } from './helpers/tools.js';

/**
 * The alert rules ship as deploy/prometheus/alerts.yml, which the monitoring profile's Prometheus loads.
 * promtool (Debian's `prometheus` package) checks the file and runs its unit tests;
 * grafana-dashboard.test.ts checks every metric it reads against a real gateway's, so a renamed metric
 * cannot silence an alert.
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

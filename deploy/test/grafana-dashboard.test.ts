import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway, TOKENS } from '../../packages/server/test/helpers/gateway.js';
import { startTestRedis, type TestRedis } from '../../packages/server/test/helpers/redis.js';

/**
 * The Grafana dashboard (deploy/grafana/cachegate.json) and the alert rules (deploy/prometheus/alerts.yml) query only
 * metrics the gateway really exports: the list comes from a real gateway's /metrics on a real Redis.
 */

const repo = fileURLToPath(new URL('../../', import.meta.url));
const dashboardFile = join(repo, 'deploy', 'grafana', 'cachegate.json');
const operationsFile = join(repo, 'docs', 'operations.md');
const alertRulesFile = join(repo, 'deploy', 'prometheus', 'alerts.yml');
const datasourcesDir = join(repo, 'deploy', 'grafana', 'provisioning', 'datasources');
/** How panels and queries name their data source: the `datasource` variable, resolved by Grafana. */
const DATASOURCE_REF = { type: 'prometheus', uid: `\${datasource}` };

interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  gridPos?: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  definition?: string;
  datasource?: { type?: string; uid?: string };
  current?: { value?: unknown };
}
interface Dashboard {
  title?: string;
  uid?: string;
  schemaVersion?: number;
  panels?: Panel[];
  templating?: { list?: Variable[] };
}

const dashboardText = readFileSync(dashboardFile, 'utf8');
const dashboard = JSON.parse(dashboardText) as Dashboard;
const operations = readFileSync(operationsFile, 'utf8');

/** Every panel, those nested in collapsed rows included. */
function allPanels(panels: Panel[] = []): Panel[] {
  return panels.flatMap((panel) => [panel, ...allPanels(panel.panels)]);
}
const panels = allPanels(dashboard.panels);
const variables = dashboard.templating?.list ?? [];

/** Every PromQL expression of the dashboard, named for failure messages. */
function dashboardExpressions(): { where: string; expr: string }[] {
  const found: { where: string; expr: string }[] = [];
  for (const panel of panels) {
    for (const target of panel.targets ?? []) {
      found.push({ where: `panel "${panel.title}" target ${target.refId}`, expr: target.expr ?? '' });
    }
  }
  for (const variable of variables.filter((v) => v.type === 'query')) {
    const query = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
    // label_values(<series selector>, <label>): only the selector is PromQL.
    const labelValues = /^\s*label_values\(\s*(.+),\s*[A-Za-z_]\w*\s*\)\s*$/s.exec(query);
    found.push({ where: `variable "${variable.name}"`, expr: labelValues?.[1] ?? query });
  }
  return found;
}

const PROMQL_KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
  'atan2',
]);

/**
 * The metric names a PromQL expression selects. Not a parser: it removes what cannot be a metric name
 * (string literals, label matchers, ranges, Grafana variables, grouping label lists, numbers) and keeps the
 * identifiers that are neither keywords nor followed by "(" (functions and aggregations).
 */
function metricNames(expr: string): string[] {
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ')
    .replace(/\{[^{}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ')
    .replace(/\boffset\s+-?\w+/gi, ' ')
    .replace(/(?<![\w:.])(?:0x[0-9a-f]+|\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?)(?![\w:])/gi, ' ');
  const names = new Set<string>();
  for (const match of text.matchAll(/[A-Za-z_:][\w:]*/g)) {
    const word = match[0];
    if (PROMQL_KEYWORDS.has(word.toLowerCase())) continue;
    if (
      text
        .slice(match.index + word.length)
        .trimStart()
        .startsWith('(')
    )
      continue;
    names.add(word);
  }
  return [...names];
}

/** The `expr:` of every rule in a Prometheus rules YAML text, block scalars (`expr: |`) included. */
function ruleExpressions(yaml: string): { alert: string; expr: string }[] {
  const lines = yaml.split('\n');
  const found: { alert: string; expr: string }[] = [];
  let alert = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const alertMatch = /^\s*-\s*alert:\s*(\S+)/.exec(line);
    if (alertMatch) alert = alertMatch[1] ?? '';
    const exprMatch = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (!exprMatch) continue;
    const indent = exprMatch[1]?.length ?? 0;
    const inline = exprMatch[2]?.trim() ?? '';
    if (!/^[|>][-+]?$/.test(inline)) {
      found.push({ alert, expr: inline });
      continue;
    }
    const block: string[] = [];
    while (i + 1 < lines.length) {
      const next = lines[i + 1] ?? '';
      if (next.trim() !== '' && (/^\s*/.exec(next)?.[0].length ?? 0) <= indent) break;
      block.push(next.trim());
      i++;
    }
    found.push({ alert, expr: block.join(' ').trim() });
  }
  return found;
}

/** The Prometheus rules file the monitoring profile loads. */
function alertRulesYaml(): string {
  return readFileSync(alertRulesFile, 'utf8');
}

describe('the PromQL metric-name extractor', () => {
  it('finds selected metrics and skips functions, labels, strings, variables and numbers', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{job=~"$job", route!~"/x|/y"}[$__rate_interval])))',
      ),
    ).toEqual(['a_bucket']);
    expect(
      metricNames(
        '(sum(rate(b_total{s=~"5.."}[5m])) or vector(0)) / ignoring(reason) group_left sum(rate(c_total[1m] offset 1h)) > 1e3',
      ),
    ).toEqual(['b_total', 'c_total']);
    expect(metricNames('up{job="cachegate"} == 0')).toEqual(['up']);
    expect(metricNames('max by (job, instance) (d_seconds) > 0.2')).toEqual(['d_seconds']);
    expect(
      metricNames(`sum(increase(e_total[$__range])) / (sum(increase(e_total[\${__range}])) + f)`),
    ).toEqual(['e_total', 'f']);
  });

  it('reads inline and block-scalar rule expressions', () => {
    const yaml = [
      'groups:',
      '  - name: g',
      '    rules:',
      '      - alert: One',
      '        expr: x_total > 0',
      '        for: 1m',
      '      - alert: Two',
      '        expr: |',
      '          sum(rate(y_total[5m]))',
      '            / sum(rate(z_total[5m]))',
      '        labels:',
      '          severity: warning',
    ].join('\n');
    expect(ruleExpressions(yaml)).toEqual([
      { alert: 'One', expr: 'x_total > 0' },
      { alert: 'Two', expr: 'sum(rate(y_total[5m])) / sum(rate(z_total[5m]))' },
    ]);
  });
});

describe('deploy/grafana/cachegate.json', () => {
  it('is a Grafana dashboard: title, uid, schema version, unique panel ids, queries with expressions', () => {
    expect(dashboard.title).toBe('cachegate');
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(panels.length).toBeGreaterThan(10);

    const ids = panels.map((panel) => panel.id);
    for (const id of ids) expect(Number.isInteger(id)).toBe(true);
    expect(new Set(ids).size, 'panel ids are unique').toBe(ids.length);

    for (const panel of panels) {
      expect(panel.title, `panel ${panel.id} has a title`).toBeTruthy();
      expect(panel.type, `panel ${panel.id} has a type`).toBeTruthy();
      const grid = panel.gridPos;
      expect(grid, `panel "${panel.title}" has a gridPos`).toBeDefined();
      if (grid === undefined) continue;
      for (const n of [grid.x, grid.y, grid.w, grid.h]) expect(Number.isInteger(n) && n >= 0).toBe(true);
      expect(grid.x + grid.w, `panel "${panel.title}" fits in 24 columns`).toBeLessThanOrEqual(24);
      if (panel.type === 'row') continue;

      const targets = panel.targets ?? [];
      expect(targets.length, `panel "${panel.title}" has queries`).toBeGreaterThan(0);
      const refIds = targets.map((t) => t.refId);
      expect(new Set(refIds).size, `panel "${panel.title}" refIds are unique`).toBe(refIds.length);
      for (const target of targets) {
        expect(target.expr?.trim(), `panel "${panel.title}" ${target.refId} has an expr`).toBeTruthy();
        expect(target.datasource).toEqual(DATASOURCE_REF);
      }
      expect(panel.datasource).toEqual(DATASOURCE_REF);
    }
  });

  it('has the rows Traffic, Latency, Errors, Redis, Cache and Process, in that order', () => {
    const rows = panels.filter((panel) => panel.type === 'row').map((panel) => panel.title);
    expect(rows).toEqual(['Traffic', 'Latency', 'Errors', 'Redis', 'Cache', 'Process']);
  });

  it('picks its data source through a variable that file provisioning resolves, no import inputs', () => {
    expect(dashboardText).not.toMatch(/DS_PROMETHEUS|__inputs/);
    const datasource = variables.find((v) => v.name === 'datasource');
    expect(datasource?.type).toBe('datasource');
    expect(datasource?.query).toBe('prometheus');
    for (const name of ['job', 'instance']) {
      const variable = variables.find((v) => v.name === name);
      expect(variable?.type, `variable ${name}`).toBe('query');
      expect(variable?.datasource).toEqual(DATASOURCE_REF);
    }
    // Every query is filtered by the job and instance variables.
    for (const { where, expr } of dashboardExpressions()) {
      if (where.startsWith('variable')) continue;
      expect(expr, where).toContain('instance=~"$instance"');
      expect(expr, where).toContain('job=~"$job"');
    }
    // The default matches the Prometheus data source that deploy/grafana/provisioning sets up, if present.
    const files = existsSync(datasourcesDir)
      ? readdirSync(datasourcesDir).filter((f) => /\.ya?ml$/.test(f))
      : [];
    const uids = files.flatMap((file) =>
      [...readFileSync(join(datasourcesDir, file), 'utf8').matchAll(/^\s*uid:\s*["']?([\w-]+)/gm)].map(
        (m) => m[1],
      ),
    );
    if (uids.length > 0) expect(uids).toContain(datasource?.current?.value);
  });
});

describe('metric names against a real gateway', () => {
  let redis: TestRedis;
  let gateway: TestGateway;
  let exported: Set<string>;

  beforeAll(async () => {
    redis = await startTestRedis();
    gateway = await startGateway(redis.url);
    const response = await gateway.request('/metrics', { token: TOKENS.admin });
    expect(response.status).toBe(200);
    exported = new Set();
    for (const [, name, type] of (await response.text()).matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
      if (name === undefined) continue;
      exported.add(name);
      if (type === 'histogram')
        for (const suffix of ['_bucket', '_sum', '_count']) exported.add(name + suffix);
      if (type === 'summary') for (const suffix of ['_sum', '_count']) exported.add(name + suffix);
    }
  });
  afterAll(async () => {
    await gateway?.close();
    await redis?.stop();
  });

  it('the gateway exports its own families and the process defaults', () => {
    for (const name of [
      'cachegate_http_requests_total',
      'cachegate_http_request_duration_seconds_bucket',
      'cachegate_redis_command_duration_seconds_count',
      'cachegate_redis_up',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(exported.has(name), name).toBe(true);
    }
  });

  it('every PromQL expression of the dashboard uses only exported metrics', () => {
    const expressions = dashboardExpressions();
    expect(expressions.length).toBeGreaterThan(20);
    for (const { where, expr } of expressions) {
      const names = metricNames(expr);
      expect(names.length, `${where} selects a metric: ${expr}`).toBeGreaterThan(0);
      for (const name of names) expect(exported.has(name), `${where} uses "${name}": ${expr}`).toBe(true);
    }
  });

  it('the dashboard shows every cachegate_* family', () => {
    const used = new Set(dashboardExpressions().flatMap(({ expr }) => metricNames(expr)));
    const families = [...exported].filter(
      (name) => name.startsWith('cachegate_') && !/_(bucket|sum|count)$/.test(name),
    );
    expect(families.length).toBeGreaterThanOrEqual(9);
    for (const family of families) {
      const shown = [...used].some((name) => name === family || name.startsWith(`${family}_`));
      expect(shown, `${family} is on the dashboard`).toBe(true);
    }
  });

  it('the alert rules in deploy/prometheus/alerts.yml use only exported metrics (and Prometheus\'s "up")', () => {
    const rules = ruleExpressions(alertRulesYaml());
    expect(rules.map((rule) => rule.alert).sort()).toEqual(
      [
        'DatabaseDown',
        'EventLoopLag',
        'GatewayDown',
        'HighErrorRatio',
        'HighLatencyP99',
        'Overloaded',
        'RateLimitedHeavily',
        'RedisDown',
      ].sort(),
    );
    for (const { alert, expr } of rules) {
      const names = metricNames(expr);
      expect(names.length, `${alert} selects a metric: ${expr}`).toBeGreaterThan(0);
      for (const name of names) {
        // `up` is written by Prometheus itself for every scrape target, not by the gateway.
        expect(name === 'up' || exported.has(name), `${alert} uses "${name}": ${expr}`).toBe(true);
      }
    }
    expect(rules.find((rule) => rule.alert === 'Overloaded')?.expr).toContain('reason="overload"');
    expect(rules.find((rule) => rule.alert === 'GatewayDown')?.expr).toMatch(/\bup\b/);
  });

  it('every metric named in docs/operations.md exists', () => {
    const mentioned = new Set(operations.match(/\b(?:cachegate|nodejs|process)_[a-z0-9_]+/g) ?? []);
    expect(mentioned.size).toBeGreaterThan(5);
    for (const name of mentioned)
      expect(exported.has(name), `docs/operations.md mentions ${name}`).toBe(true);
  });
});

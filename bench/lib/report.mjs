// The markdown table of a run. The JSON file is the `results` object itself.
import { evaluateTargets, otherRatios } from './stats.mjs';

const MB = 1024 * 1024;

export function formatValue(value, format) {
  if (value === undefined || Number.isNaN(value)) return 'n/a';
  if (format === 'ratio') return value.toFixed(2);
  if (format === 'ms') return `${value.toFixed(2)} ms`;
  if (format === 'bytes') return `${(value / MB).toFixed(0)} MB`;
  return String(value);
}

const int = (n) => (n === undefined ? 'n/a' : Math.round(n).toLocaleString('en-US'));
const fixed = (n, digits = 2) => (n === undefined ? 'n/a' : n.toFixed(digits));
const mb = (bytes) => (bytes === undefined ? '' : (bytes / MB).toFixed(0));
const status = (met) => (met === undefined ? 'not measured' : met ? '**met**' : '**missed**');

/** Markdown of a run: setup, targets, every scenario's medians, other ratios, caveats. */
export function renderMarkdown(results, { chartFile } = {}) {
  const { meta } = results;
  const connections = meta.connections;
  const lines = [];
  lines.push(`# cachegate benchmark, ${meta.date}`, '');
  lines.push(
    `- Machine: ${meta.machine.cpus} × ${meta.machine.cpuModel}, ${meta.machine.kernel}; load average ${meta.loadAverage.start} at start, ${meta.loadAverage.end} at end (a shared machine: other work ran too)`,
  );
  lines.push(
    `- Software: Node ${meta.versions.node}, ${meta.versions.redis}, ${meta.versions.wrk}; cachegate ${meta.git}`,
  );
  lines.push(
    `- Mode: ${meta.pinned ? `pinned: load generator on CPU ${meta.cpus.load}, gateway/reference server and Redis on CPU ${meta.cpus.server}` : 'unpinned'}; the worker comparison is always unpinned`,
  );
  lines.push(
    `- Each cell: median of ${meta.runs} run(s) of ${meta.duration} s after ${meta.warmup} s of warm-up; rounds alternate scenario order; wrk -t${meta.threads}; a run during which other jobs used more than ${meta.maxOthersCpuPercent} % of a core is repeated up to ${meta.retries} times and the quietest attempt kept (see *Others CPU %*)`,
  );
  lines.push(
    '- Gateway: default configuration except `CACHEGATE_LOG_LEVEL=warn` (info logs one line per request), no rate limit, one Bearer token, Redis without persistence',
  );
  if (meta.baseline)
    lines.push(`- Baseline: the rows marked _(before)_ ran \`${meta.baseline}\` in the same rounds`);
  lines.push(
    `- Total time ${Math.round(meta.elapsedSeconds)} s${meta.quick ? '; **--quick run: a smoke test, not a measurement**' : ''}`,
  );
  lines.push('');

  lines.push('## Targets (issue 12)', '');
  lines.push('| Target | Measured | Rounds | Goal | Status |', '| --- | ---: | --- | --- | --- |');
  for (const t of evaluateTargets(results, connections)) {
    const rounds = t.rounds?.length ? t.rounds.map((r) => r.toFixed(2)).join(', ') : '';
    lines.push(
      `| ${t.label} | ${formatValue(t.value, t.format)} | ${rounds} | ${t.goal} | ${status(t.met)} |`,
    );
  }
  lines.push('');

  lines.push('## Scenarios', '');
  lines.push(
    `Requests/s is HTTP requests (or Redis round trips for redis-benchmark); commands/s counts Redis commands. Server CPU is the gateway (all workers) or the reference server; µs/req is its CPU time per request, the least noisy number here. CPU % is of one core (200 % = both); *Others* is the machine's busy time (steal included) minus the bench's own processes: other jobs competing during the run (n/a for redis-benchmark, whose own CPU is not metered). RSS is read after each run (the target uses the 200-connection run); idle RSS is read once the server is ready, before any load.`,
    '',
  );
  lines.push(
    '| Scenario | Conns | Requests/s | Commands/s | p50 ms | p99 ms | Errors | Non-2xx | Server CPU % | CPU µs/req | Redis CPU % | Load gen. CPU % | Others CPU % | RSS idle MB | RSS MB |',
  );
  lines.push(`| --- |${' ---: |'.repeat(14)}`);
  for (const scenario of Object.values(results.scenarios)) {
    for (const conns of Object.keys(scenario.byConnections)) {
      const s = scenario.byConnections[conns].summary;
      lines.push(
        `| ${scenario.label} | ${conns} | ${int(s.rps)} | ${int(s.cps)} | ${fixed(s.p50)} | ${fixed(s.p99)} | ${s.socketErrors} | ${s.non2xx} | ${fixed(s.serverCpuPercent, 0)} | ${fixed(s.serverCpuUsPerRequest, 1)} | ${fixed(s.redisCpuPercent, 0)} | ${fixed(s.loadCpuPercent, 0)} | ${fixed(s.othersCpuPercent, 0)} | ${mb(s.rssIdle)} | ${mb(s.rss)} |`,
      );
    }
  }
  lines.push('');

  const others = otherRatios(results, connections);
  if (others.length > 0) {
    lines.push('## Other ratios', '');
    lines.push(`| Ratio | ${connections.map((c) => `${c} conns`).join(' | ')} |`);
    lines.push(`| --- | ${connections.map(() => '---:').join(' | ')} |`);
    for (const row of others)
      lines.push(`| ${row.label} | ${row.values.map((v) => formatValue(v, 'ratio')).join(' | ')} |`);
    lines.push('');
  }

  if (chartFile) lines.push(`![Throughput chart](${chartFile})`, '');
  lines.push(
    'Ratios taken within this run are what to compare across runs; absolute numbers move with the load of',
  );
  lines.push('the machine. How each number is measured: [bench/README.md](../README.md).');
  return `${lines.join('\n')}\n`;
}

// Medians over runs, and the targets of issue 7 computed from them.

/** Median of the finite numbers in `values` (undefined when there are none). */
export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const MEDIAN_FIELDS = [
  'rps',
  'cps',
  'p50',
  'p99',
  'max',
  'rssIdle',
  'rss',
  'serverCpuPercent',
  'serverCpuUsPerRequest',
  'redisCpuPercent',
  'loadCpuPercent',
  'othersCpuPercent',
];

/** Medians of each field over the runs; errors are summed, since any error invalidates the scenario. */
export function summarize(runs) {
  const summary = { runs: runs.length };
  for (const field of MEDIAN_FIELDS) summary[field] = median(runs.map((r) => r[field]));
  summary.socketErrors = runs.reduce((sum, r) => sum + r.socketErrors, 0);
  summary.non2xx = runs.reduce((sum, r) => sum + r.non2xx, 0);
  return summary;
}

/**
 * The targets of issue 7. Each has the ratio (or value) of the medians, and the same ratio taken round by
 * round, whose spread shows how noisy the machine was.
 */
export function evaluateTargets(results, connections) {
  const targets = [];
  const cell = (id, conns) => results.scenarios[id]?.byConnections[conns];
  const ratio = (label, goal, a, b, field, byRound, conns) => {
    const num = cell(a, conns);
    const den = cell(b, conns);
    const value = num && den ? num.summary[field] / den.summary[field] : undefined;
    const rounds = num && den ? pairRounds(num.runs, den.runs, field) : [];
    targets.push({
      label,
      goal: `≥ ${goal}`,
      value,
      rounds,
      met: value === undefined ? undefined : value >= goal,
      format: 'ratio',
      byRound,
    });
  };
  for (const conns of connections) {
    ratio(
      `GET via POST / ÷ bare node:http, ${conns} conns (req/s)`,
      0.6,
      'get-post',
      'http-responder',
      'rps',
      true,
      conns,
    );
  }
  for (const conns of connections) {
    ratio(
      `/pipeline ÷ redis-benchmark -P 16, ${conns} conns (commands/s)`,
      0.3,
      'pipeline',
      'redis-p16',
      'cps',
      true,
      conns,
    );
  }
  const p99 = cell('get-post', 50)?.summary.p99;
  targets.push({
    label: 'p99 latency, GET via POST /, 50 conns',
    goal: '≤ 3 ms',
    value: p99,
    met: p99 === undefined ? undefined : p99 <= 3,
    format: 'ms',
  });
  const rssCells = Object.values(results.scenarios)
    // The target is per gateway process: the 2-worker run (three processes) is left out.
    .filter((s) => s.kind === 'gateway' && (s.workers ?? 1) === 1 && s.byConnections[200])
    .map((s) => ({ id: s.id, rss: s.byConnections[200].summary.rss }))
    .filter((c) => c.rss !== undefined);
  const worst = rssCells.sort((a, b) => b.rss - a.rss)[0];
  targets.push({
    label: `Gateway RSS at 200 conns, largest of all scenarios${worst ? ` (${worst.id})` : ''}`,
    goal: '≤ 150 MB',
    value: worst?.rss,
    met: worst === undefined ? undefined : worst.rss <= 150 * 1024 * 1024,
    format: 'bytes',
  });
  for (const conns of connections) {
    ratio(
      `2 workers ÷ 1 worker, unpinned, ${conns} conns (req/s)`,
      1.3,
      'workers-2',
      'workers-1',
      'rps',
      true,
      conns,
    );
  }
  return targets;
}

/** Other ratios worth reading next to the targets (not targets themselves). */
export function otherRatios(results, connections) {
  const pairs = [
    [
      'http-responder',
      'get-post',
      'serverCpuUsPerRequest',
      'CPU per request: bare node:http ÷ GET via POST / (the req/s ratio a CPU-bound core would give; robust to noise)',
    ],
    [
      'http-responder',
      'fastify-responder',
      'serverCpuUsPerRequest',
      "CPU per request: bare node:http ÷ empty Fastify app (the framework's own ceiling for the first target)",
    ],
    ['get-post', 'fastify-responder', 'rps', 'GET via POST / ÷ empty Fastify app'],
    ['get-post', 'redis-p1', 'rps', 'GET via POST / ÷ redis-benchmark -P 1'],
    ['http-responder', 'redis-p1', 'rps', 'bare node:http ÷ redis-benchmark -P 1'],
    ['get-path', 'get-post', 'rps', 'path form ÷ POST /'],
    ['cache-get', 'get-post', 'rps', 'cache API GET ÷ POST / GET'],
    ['set', 'get-post', 'rps', 'SET ÷ GET'],
    ['pipeline', 'node-redis', 'cps', '/pipeline ÷ node-redis client loop (commands/s)'],
    ['node-redis', 'redis-p16', 'cps', 'node-redis client loop ÷ redis-benchmark -P 16 (commands/s)'],
  ];
  const rows = [];
  for (const [a, b, field, label] of pairs) {
    const values = connections.map((conns) => {
      const num = results.scenarios[a]?.byConnections[conns];
      const den = results.scenarios[b]?.byConnections[conns];
      return num && den ? num.summary[field] / den.summary[field] : undefined;
    });
    if (values.some((v) => v !== undefined)) rows.push({ label, values });
  }
  return rows;
}

function pairRounds(a, b, field) {
  const out = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) out.push(a[i][field] / b[i][field]);
  return out;
}

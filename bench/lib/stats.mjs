// Medians over runs, and the targets of issue 12 computed from them.

const MB = 1024 * 1024;

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
 * The targets of issue 12. Each has the ratio (or value) of the medians, and the same ratio taken round by
 * round, whose spread shows how noisy the machine was.
 */
export function evaluateTargets(results, connections) {
  const targets = [];
  const cell = (id, conns) => results.scenarios[id]?.byConnections[conns];
  const ratio = (label, goal, a, b, field, conns) => {
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
      byRound: true,
    });
  };
  const perConnections = (label, goal, a, b, field) => {
    for (const conns of connections)
      ratio(`${label}, ${conns} conns (${field === 'cps' ? 'commands' : 'req'}/s)`, goal, a, b, field, conns);
  };
  perConnections('GET via POST / ÷ bare node:http', 0.75, 'get-post', 'http-responder', 'rps');
  perConnections('GET via path /get/k ÷ bare node:http', 0.75, 'get-path', 'http-responder', 'rps');
  perConnections('/pipeline of 3 GETs ÷ bare node:http', 0.65, 'pipeline-3', 'http-responder', 'rps');
  perConnections('/pipeline of 100 ÷ redis-benchmark -P 16', 0.3, 'pipeline', 'redis-p16', 'cps');

  // The gateway's tail may be twice the platform's: a ratio, so it holds on a slow or a fast machine.
  const p99 = cell('get-post', 50);
  const p99Reference = cell('http-responder', 50);
  const p99Ratio = p99 && p99Reference ? p99.summary.p99 / p99Reference.summary.p99 : undefined;
  const ms = (c) => `${c.summary.p99.toFixed(2)} ms`;
  const p99Values = p99Ratio === undefined ? '' : ` (${ms(p99)} ÷ ${ms(p99Reference)})`;
  targets.push({
    label: `p99 latency, GET via POST / ÷ bare node:http, 50 conns${p99Values}`,
    goal: '≤ 2',
    value: p99Ratio,
    rounds: p99 && p99Reference ? pairRounds(p99.runs, p99Reference.runs, 'p99') : [],
    met: p99Ratio === undefined ? undefined : p99Ratio <= 2,
    format: 'ratio',
  });

  // Read once a gateway is ready, before any load: every connection count holds the same value.
  const rssIdle = cell('get-post', connections[0])?.summary.rssIdle;
  targets.push({
    label: 'Gateway RSS idle (get-post)',
    goal: '≤ 70 MB',
    value: rssIdle,
    met: rssIdle === undefined ? undefined : rssIdle <= 70 * MB,
    format: 'bytes',
  });
  const pipelineRss = cell('pipeline', 200)?.summary.rss;
  targets.push({
    label: 'Gateway RSS at 200 conns, /pipeline of 100',
    goal: '≤ 150 MB',
    value: pipelineRss,
    met: pipelineRss === undefined ? undefined : pipelineRss <= 150 * MB,
    format: 'bytes',
  });
  const rssCells = Object.values(results.scenarios)
    // Per gateway process of this build: the 2-worker run (three processes) and the baseline are left out.
    .filter((s) => s.kind === 'gateway' && (s.workers ?? 1) === 1 && !s.id.endsWith('-before'))
    .filter((s) => s.byConnections[200])
    .map((s) => ({ id: s.id, rss: s.byConnections[200].summary.rss }))
    .filter((c) => c.rss !== undefined);
  const worst = rssCells.sort((a, b) => b.rss - a.rss)[0];
  targets.push({
    label: `Gateway RSS at 200 conns, largest of all scenarios${worst ? ` (${worst.id})` : ''}`,
    goal: '≤ 150 MB',
    value: worst?.rss,
    met: worst === undefined ? undefined : worst.rss <= 150 * MB,
    format: 'bytes',
  });

  ratio('2 workers ÷ 1 worker, unpinned, 200 conns (req/s)', 1.5, 'workers-2', 'workers-1', 'rps', 200);
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
    ['get-post', 'net-responder', 'rps', 'GET via POST / ÷ raw node:net responder (issue 24: ≥ 0.65)'],
    ['get-path', 'net-responder', 'rps', 'GET via path /get/k ÷ raw node:net responder (issue 24: ≥ 0.65)'],
    [
      'http-responder',
      'net-responder',
      'rps',
      'bare node:http ÷ raw node:net responder (the engine headroom)',
    ],
    ['get-post', 'minimal-gateway', 'rps', 'GET via POST / ÷ minimal honest gateway'],
    ['get-post', 'fastify-responder', 'rps', 'GET via POST / ÷ empty Fastify app'],
    [
      'get-close',
      'http-responder-close',
      'rps',
      'GET via POST / ÷ bare node:http, both with Connection: close',
    ],
    ['get-https', 'get-post', 'rps', 'HTTPS ÷ HTTP, GET via POST /'],
    ['get-post', 'redis-p1', 'rps', 'GET via POST / ÷ redis-benchmark -P 1'],
    ['http-responder', 'redis-p1', 'rps', 'bare node:http ÷ redis-benchmark -P 1'],
    ['get-path', 'get-post', 'rps', 'path form ÷ POST /'],
    ['cache-get', 'get-post', 'rps', 'cache API GET ÷ POST / GET'],
    ['set', 'get-post', 'rps', 'SET ÷ GET'],
    ['pipeline-3', 'pipeline', 'cps', '/pipeline of 3 ÷ /pipeline of 100 (commands/s)'],
    ['pipeline', 'node-redis', 'cps', '/pipeline ÷ node-redis client loop (commands/s)'],
    ['node-redis', 'redis-p16', 'cps', 'node-redis client loop ÷ redis-benchmark -P 16 (commands/s)'],
    // With --baseline: this build against the baseline build, scenario by scenario.
    ...Object.keys(results.scenarios)
      .filter((id) => id.endsWith('-before'))
      .map((before) => {
        const id = before.slice(0, -'-before'.length);
        return [id, before, 'rps', `${results.scenarios[id]?.label ?? id}: after ÷ before`];
      }),
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

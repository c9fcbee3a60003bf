// Reads a V8 .cpuprofile (from node --cpu-prof) and ranks functions by self time.

/**
 * Self time per function (functionName + url), summed over all nodes of the call tree, plus the same
 * time grouped by where the code lives (node core, a package in node_modules, cachegate's own code), and
 * the callers of the heaviest functions (a native `writev` says little until you see who called it).
 * Sample i is charged the interval up to sample i+1, as Chrome DevTools does.
 *
 * `window` ({ from, to } in µs of the monotonic clock, which V8's profile timestamps and
 * process.hrtime share on Linux) keeps only the samples taken under load, leaving out start-up.
 */
export function summarizeProfile(profile, repoRoot, window) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const { samples, timeDeltas } = profile;
  const stamps = [];
  let now = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    now += timeDeltas[i] ?? 0;
    stamps.push(now);
  }
  const inWindow = (t) => window === undefined || (t >= window.from && t <= window.to);
  const windowed = window !== undefined && stamps.some(inWindow);
  const selfByNode = new Map();
  for (let i = 0; i < samples.length; i++) {
    if (windowed && !inWindow(stamps[i])) continue;
    const delta = (stamps[i + 1] ?? stamps[i]) - stamps[i];
    selfByNode.set(samples[i], (selfByNode.get(samples[i]) ?? 0) + delta);
  }

  const keyOf = (frame) => `${frame.functionName || '(anonymous)'}\u0000${shortUrl(frame.url, repoRoot)}`;
  const byFunction = new Map();
  const byArea = new Map();
  let total = 0;
  for (const [id, micros] of selfByNode) {
    const frame = nodes.get(id)?.callFrame;
    if (frame === undefined) continue;
    total += micros;
    const url = shortUrl(frame.url, repoRoot);
    const key = keyOf(frame);
    const entry = byFunction.get(key) ?? {
      name: frame.functionName || '(anonymous)',
      url,
      line: frame.lineNumber + 1,
      micros: 0,
      callers: new Map(),
    };
    entry.micros += micros;
    const caller = callerChain(id, nodes, parents, repoRoot);
    if (caller) entry.callers.set(caller, (entry.callers.get(caller) ?? 0) + micros);
    byFunction.set(key, entry);
    const area = areaOf(frame, url);
    byArea.set(area, (byArea.get(area) ?? 0) + micros);
  }
  const sort = (entries) => entries.sort((a, b) => b.micros - a.micros);
  const functions = sort([...byFunction.values()]).map((f) => ({
    ...f,
    callers: sort([...f.callers].map(([caller, micros]) => ({ caller, micros }))),
  }));
  return {
    windowed,
    totalMicros: total,
    idleMicros: functions.filter((f) => f.name === '(idle)').reduce((s, f) => s + f.micros, 0),
    functions,
    areas: sort([...byArea].map(([area, micros]) => ({ area, micros }))),
  };
}

/**
 * A printable report: the top `limit` functions, callers of the heaviest, and the time per area. With
 * `requests` (served in the profiled window), each line also shows its cost in µs per request.
 */
export function formatProfile(summary, limit = 25, { requests } = {}) {
  const { totalMicros, idleMicros } = summary;
  const busy = totalMicros - idleMicros;
  const pct = (micros, of) => `${((micros / of) * 100).toFixed(1).padStart(5)}%`;
  const perRequest = (micros) => (requests ? `${(micros / requests).toFixed(2).padStart(7)}` : '');
  const ms = (micros) => `${(micros / 1000).toFixed(1).padStart(10)}${perRequest(micros)}`;
  const functions = summary.functions.filter((f) => f.name !== '(idle)');
  const lines = [
    `Profile: ${(totalMicros / 1e6).toFixed(2)} s sampled ${summary.windowed ? 'under load (start-up excluded)' : '(whole process, start-up included)'}, ${(idleMicros / 1e6).toFixed(2)} s idle; percentages of busy time (${(busy / 1e6).toFixed(2)} s)`,
    ...(requests
      ? [`${requests} requests in the window: ${(busy / requests).toFixed(1)} µs of busy time per request`]
      : []),
    '',
    `Top ${limit} functions by self time:`,
    `   self ms${requests ? ' µs/req' : ''}  busy%  function  location`,
  ];
  for (const f of functions.slice(0, limit)) {
    lines.push(`${ms(f.micros)} ${pct(f.micros, busy)}  ${f.name}  ${f.url ? `${f.url}:${f.line}` : ''}`);
  }
  lines.push('', 'Who calls the 5 heaviest functions (caller < its caller < ..., share of the function):');
  for (const f of functions.filter((f) => !f.name.startsWith('(')).slice(0, 5)) {
    lines.push(`  ${f.name}`);
    for (const c of f.callers.slice(0, 3)) lines.push(`    ${pct(c.micros, f.micros)}  ${c.caller}`);
  }
  lines.push('', `Self time by area (top 20)${requests ? ', ms, µs/req, busy%' : ''}:`);
  for (const a of summary.areas.filter((a) => a.area !== '(idle)').slice(0, 20)) {
    lines.push(`${ms(a.micros)} ${pct(a.micros, busy)}  ${a.area}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The callers of a node up to the first frame outside node's stream/socket plumbing (a route, a plugin,
 * a driver, node's HTTP server), so that native time is charged to the code that asked for it.
 */
function callerChain(id, nodes, parents, repoRoot) {
  const chain = [];
  let current = parents.get(id);
  while (current !== undefined && chain.length < 10) {
    const frame = nodes.get(current)?.callFrame;
    if (frame === undefined || frame.functionName === '(root)') break;
    const url = shortUrl(frame.url, repoRoot);
    chain.push(
      `${frame.functionName || '(anonymous)'}${url ? ` (${url.replace(/^node:/, '')}:${frame.lineNumber + 1})` : ''}`,
    );
    const plumbing =
      /^node:(internal\/(streams|stream_base_commons|process)|net|stream|events)/.test(url) || url === '';
    if (!plumbing) break;
    current = parents.get(current);
  }
  return chain.join(' < ');
}

function shortUrl(url, repoRoot) {
  if (!url) return '';
  const path = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  return path.startsWith(`${repoRoot}/`) ? path.slice(repoRoot.length + 1) : path;
}

function areaOf(frame, url) {
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native / V8 builtins)';
  if (url.startsWith('node:'))
    return `node core: ${url.slice('node:'.length).split('/').slice(0, 2).join('/')}`;
  const modules = url.lastIndexOf('node_modules/');
  if (modules !== -1) {
    const parts = url.slice(modules + 'node_modules/'.length).split('/');
    return `npm: ${parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  if (url.startsWith('packages/')) return `cachegate: ${url.split('/').slice(0, 4).join('/')}`;
  return url;
}

// A dependency-free SVG bar chart of a run: requests/s of one-command scenarios, commands/s of pipelined
// ones, one bar per connection count.

const COLORS = {
  gateway: ['#2f6db5', '#8db4e2'],
  reference: ['#6b6b6b', '#bdbdbd'],
};
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

export function renderSvg(results) {
  const { meta, scenarios } = results;
  const connections = meta.connections;
  // cachegate first, references below it.
  const all = Object.values(scenarios).sort((a, b) => Number(a.reference) - Number(b.reference));
  const pipelined = new Set(['pipeline', 'pipeline-before', 'redis-p16', 'node-redis']);
  const panels = [
    {
      title: 'Requests per second, one command per request (three for /pipeline of 3)',
      field: 'rps',
      rows: all.filter((s) => !pipelined.has(s.id)),
    },
    {
      title: 'Redis commands per second, pipelined',
      field: 'cps',
      rows: all.filter((s) => pipelined.has(s.id)),
    },
  ].filter((p) => p.rows.length > 0);

  const width = 860;
  const labelWidth = 290;
  const valueWidth = 80;
  const barHeight = 13;
  const rowGap = 8;
  const chartWidth = width - labelWidth - valueWidth - 20;
  const out = [];
  let y = 34;
  out.push(
    `<text x="10" y="22" font-size="15" font-weight="600" ${FONT}>cachegate benchmark ${escapeXml(meta.date)}: ${meta.pinned ? 'pinned' : 'unpinned'}, median of ${meta.runs} × ${meta.duration} s</text>`,
  );
  for (const panel of panels) {
    y += 16;
    out.push(
      `<text x="10" y="${y}" font-size="13" font-weight="600" ${FONT}>${escapeXml(panel.title)}</text>`,
    );
    y += 8;
    const max = Math.max(
      1,
      ...panel.rows.flatMap((s) => connections.map((c) => s.byConnections[c]?.summary[panel.field] ?? 0)),
    );
    for (const scenario of panel.rows) {
      const palette = scenario.reference ? COLORS.reference : COLORS.gateway;
      const groupHeight = connections.length * barHeight;
      out.push(
        `<text x="${labelWidth - 8}" y="${y + groupHeight / 2 + 4}" font-size="12" text-anchor="end" ${FONT}>${escapeXml(scenario.label)}</text>`,
      );
      connections.forEach((conns, i) => {
        const value = scenario.byConnections[conns]?.summary[panel.field];
        const w = value ? Math.max(1, (value / max) * chartWidth) : 0;
        const by = y + i * barHeight;
        out.push(
          `<rect x="${labelWidth}" y="${by}" width="${w.toFixed(1)}" height="${barHeight - 2}" fill="${palette[i % 2]}"><title>${escapeXml(`${scenario.label}, ${conns} conns: ${value ? Math.round(value) : 'n/a'}`)}</title></rect>`,
        );
        out.push(
          `<text x="${labelWidth + w + 4}" y="${by + barHeight - 3}" font-size="10" ${FONT}>${value ? formatRate(value) : 'n/a'}</text>`,
        );
      });
      y += groupHeight + rowGap;
    }
  }
  y += 6;
  let lx = 10;
  connections.forEach((conns, i) => {
    for (const [kind, palette] of Object.entries(COLORS)) {
      out.push(`<rect x="${lx}" y="${y}" width="12" height="10" fill="${palette[i % 2]}"/>`);
      out.push(
        `<text x="${lx + 16}" y="${y + 9}" font-size="11" ${FONT}>${kind === 'gateway' ? 'cachegate' : 'reference'}, ${conns} conns</text>`,
      );
      lx += 170;
    }
  });
  y += 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}

function formatRate(value) {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return String(Math.round(value));
}

function escapeXml(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

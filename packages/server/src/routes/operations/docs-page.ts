type Json = Record<string, unknown>;

const METHODS = ['get', 'post', 'put', 'delete', 'patch'];

const REPO = 'https://github.com/cachegate/cachegate/blob/main';
/** The guides a reader of the reference goes on to, in the repository (the gateway serves no Markdown). */
const GUIDES = [
  ['Getting started', 'README.md'],
  ['API details', 'docs/api.md'],
  ['Upstash compatibility', 'docs/compatibility.md'],
  ['The SDK', 'packages/client/README.md'],
  ['Deploying', 'docs/deploy.md'],
  ['CI services', 'docs/ci.md'],
  ['Operations', 'docs/operations.md'],
];

/**
 * The API reference as one static HTML page, rendered from the OpenAPI document: every operation of every
 * path with its parameters, body and responses. It needs no script, so it shows at once and in any browser.
 */
export function docsPage(doc: Json): string {
  const info = doc.info as { title: string; version: string; description: string };
  const paths = doc.paths as Record<string, Record<string, Json>>;
  const tags = (doc.tags as { name: string; description: string }[]) ?? [];
  const sections = tags.map(({ name, description }) => {
    const operations = Object.entries(paths).flatMap(([path, item]) =>
      METHODS.filter((method) => {
        const op = item[method];
        return op !== undefined && !op['x-cachegate-not-allowed'] && (op.tags as string[]).includes(name);
      }).map((method) => operation(path, method, item[method] as Json)),
    );
    return `<section class="tag"><h2 id="${escapeHtml(name)}">${escapeHtml(name)}</h2><p>${escapeHtml(description)}</p>${operations.join('')}</section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>cachegate ${escapeHtml(info.version)}: API reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem 1.5rem;color:#1d232a}
h1 small{font-weight:normal;color:#667}code,pre{font:13px ui-monospace,monospace}
nav{margin:1rem 0;padding:.5rem 0;border-top:1px solid #dde2e7;border-bottom:1px solid #dde2e7}
pre{background:#f4f6f8;padding:.6rem;overflow:auto;border-radius:4px;margin:.3rem 0}
.op{border:1px solid #dde2e7;border-radius:6px;padding:.4rem 1rem;margin:.8rem 0}
.op h3{margin:.4rem 0;font-size:1rem}.m{display:inline-block;width:4.2rem;font:bold 12px ui-monospace,monospace;text-transform:uppercase}
.get{color:#0b7a3e}.post{color:#1f5fbf}.put{color:#9a6700}.delete{color:#b42318}.patch{color:#6e40c9}
.public{font-size:12px;background:#e7f5ec;border-radius:3px;padding:0 .3rem}table{border-collapse:collapse}
td,th{text-align:left;vertical-align:top;padding:.15rem .8rem .15rem 0}
</style></head><body>
<h1>${escapeHtml(info.title)} API <small>${escapeHtml(info.version)}</small></h1>
<p>${escapeHtml(info.description)}</p>
<p>Send a token as <code>Authorization: Bearer &lt;token&gt;</code>, <code>X-API-Key: &lt;token&gt;</code> or
<code>?_token=&lt;token&gt;</code>; operations marked <span class="public">public</span> need none.
Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
<p>A method that a path does not serve gets <code>405</code> with an <code>Allow</code> header naming those it
does; an unknown path gets <code>404</code>. Errors of the command routes are <code>{"error": "..."}</code>, those of
the cache API <code>{"error": {"code", "message", "requestId"}}</code>.</p>
<nav><b>Guides:</b> ${GUIDES.map(([title, path]) => `<a href="${REPO}/${path}">${title}</a>`).join(' · ')}</nav>
${sections.join('\n')}
</body></html>
`;
}

function operation(path: string, method: string, op: Json): string {
  const parameters = (op.parameters as Json[] | undefined) ?? [];
  const body = (op.requestBody as { content: Record<string, { schema: Json }> } | undefined)?.content;
  const responses = op.responses as Record<
    string,
    { description: string; content?: Record<string, { schema: Json }> }
  >;
  const isPublic = Array.isArray(op.security) && op.security.length === 0;
  const rows = (items: [string, string, string][]) =>
    `<table>${items.map((cells) => `<tr>${cells.map((cell) => `<td>${cell}</td>`).join('')}</tr>`).join('')}</table>`;
  return `<div class="op" data-path="${escapeHtml(path)}" data-method="${method}">
<h3><span class="m ${method}">${method}</span><code>${escapeHtml(path)}</code> ${escapeHtml(String(op.summary))}${isPublic ? ' <span class="public">public</span>' : ''}</h3>
${op.description ? `<p>${escapeHtml(String(op.description))}</p>` : ''}
${parameters.length > 0 ? `<h4>Parameters</h4>${rows(parameters.map((p) => [`<code>${escapeHtml(String(p.name))}</code>`, escapeHtml(String(p.in)), escapeHtml(String(p.description ?? (p.schema as Json | undefined)?.description ?? ''))]))}` : ''}
${
  body
    ? Object.entries(body)
        .map(([type, { schema }]) => `<h4>Body <code>${escapeHtml(type)}</code></h4>${schemaBlock(schema)}`)
        .join('')
    : ''
}
<h4>Responses</h4>${rows(
    Object.entries(responses).map(([status, response]) => [
      `<b>${escapeHtml(status)}</b>`,
      escapeHtml(response.description),
      Object.entries(response.content ?? {})
        .map(([type, { schema }]) => `<code>${escapeHtml(type)}</code>${schemaBlock(schema)}`)
        .join(''),
    ]),
  )}
</div>`;
}

function schemaBlock(schema: Json): string {
  return `<pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

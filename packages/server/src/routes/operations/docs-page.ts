import { type Example, OPERATION_EXAMPLES, RULE_EXAMPLES } from './examples.js';
import { type FieldRow, schemaFields, typeOf } from './schema-fields.js';

type Json = Record<string, unknown>;
interface Response {
  description: string;
  content?: Record<string, { schema: Json }>;
}

const METHODS = ['get', 'post', 'put', 'delete', 'patch'];

/** Each example's number: the order they run in (a PUT before the GET that reads it), not the page's. */
const STEPS = new Map(
  [...RULE_EXAMPLES, ...Object.values(OPERATION_EXAMPLES).flat()].map((example, index) => [
    example,
    index + 1,
  ]),
);

/**
 * The API reference as one static HTML page, rendered from the OpenAPI document: every operation with its
 * parameters, its body and answers as fields with their types (not schema dumps), and examples the test
 * suite runs against a real gateway. It needs no script, fits a 1280 px window without scrolling sideways,
 * and links only to what the gateway itself serves.
 */
export function docsPage(doc: Json): string {
  const info = doc.info as { title: string; version: string; description: string };
  const paths = doc.paths as Record<string, Record<string, Json>>;
  const tags = (doc.tags as { name: string; description: string }[]) ?? [];
  const examplesOf = (examples: Example[] | undefined) =>
    (examples ?? []).map((example) => exampleBlock(example, STEPS.get(example) ?? 0)).join('');
  const rules = examplesOf(RULE_EXAMPLES);
  const sections = tags.map(({ name, description }) => {
    const operations = Object.entries(paths).flatMap(([path, item]) =>
      METHODS.filter((method) => (item[method]?.tags as string[] | undefined)?.includes(name)).map((method) =>
        operation(
          path,
          method,
          item[method] as Json,
          examplesOf(OPERATION_EXAMPLES[`${method.toUpperCase()} ${path}`]),
        ),
      ),
    );
    return `<section id="${escapeHtml(name)}"><h2>${escapeHtml(name)}</h2><p>${escapeHtml(description)}</p>${operations.join('')}</section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>cachegate ${escapeHtml(info.version)}: API reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 1.5rem;color:#1d232a}
h1 small{font-weight:normal;color:#667}code,pre{font:13px ui-monospace,monospace;overflow-wrap:anywhere}
nav{margin:1rem 0;padding:.5rem 0;border-top:1px solid #dde2e7;border-bottom:1px solid #dde2e7}
pre{background:#f4f6f8;padding:.6rem;border-radius:4px;margin:.3rem 0;white-space:pre-wrap}
.op{border:1px solid #dde2e7;border-radius:6px;padding:.4rem 1rem;margin:.8rem 0}
.op h3{margin:.4rem 0;font-size:1rem}h4{margin:.8rem 0 .2rem}
.m{display:inline-block;width:4.2rem;font:bold 12px ui-monospace,monospace;text-transform:uppercase}
.get{color:#0b7a3e}.post{color:#1f5fbf}.put{color:#9a6700}.delete{color:#b42318}.patch{color:#6e40c9}
.public{font-size:12px;background:#e7f5ec;border-radius:3px;padding:0 .3rem}
table{border-collapse:collapse;width:100%}td,th{text-align:left;vertical-align:top;padding:.2rem .8rem .2rem 0;
border-bottom:1px solid #eef0f2;overflow-wrap:break-word}th{font-weight:600;color:#4a5560}
.example p{margin:.6rem 0 0;color:#4a5560}.optional{color:#8a949e}
</style></head><body>
<h1>${escapeHtml(info.title)} API <small>${escapeHtml(info.version)}</small></h1>
<p>${escapeHtml(info.description)}</p>
<nav><a href="#rules">Rules</a> · ${tags.map(({ name }) => `<a href="#${escapeHtml(name)}">${escapeHtml(name)}</a>`).join(' · ')} · Machine-readable: <a href="/openapi.json">/openapi.json</a></nav>
<section id="rules"><h2>Rules every route follows</h2>
<ul>
<li>Send a token as <code>Authorization: Bearer &lt;token&gt;</code>, <code>X-API-Key: &lt;token&gt;</code> or
<code>?_token=&lt;token&gt;</code>; operations marked <span class="public">public</span> need none.</li>
<li>A path that is no route of this page is a command in the path form (<code>/get/greeting</code> runs
<code>GET greeting</code>), so it needs a token and gets Redis’s answer: an unknown command is a 400, not a 404.
404 is the cache API’s answer for a key that does not exist.</li>
<li>A method a route does not serve gets <code>405</code> with an <code>Allow</code> header naming those it does.</li>
<li>Errors of the command routes are <code>{"error": "..."}</code>, those of the cache API
<code>{"error": {"code", "message", "requestId"}}</code>; every error answer also names its <code>CG_ERR_*</code>
code in the <code>Cachegate-Error-Code</code> header.</li>
<li>A <code>RedisResult</code> is Redis’s reply in RESP2 shapes: a string, an integer, null, or an array of
these (never a JSON object or a float).</li>
</ul>
<p>The examples are curl commands with <code>CACHEGATE_URL</code> set to this gateway’s address and
<code>TOKEN</code> to a write token, numbered in the order they run, from an empty Redis; “…” stands for what
differs each time (or, at the end of a text, the rest of it). The test suite runs every one of them against a
real gateway.</p>
${rules}
</section>
${sections.join('\n')}
<footer><p>The guides (deploying, operations, the SDK, Upstash compatibility) are Markdown files in the
repository and in the <code>@cachegate/server</code> and <code>@cachegate/client</code> packages.</p></footer>
</body></html>
`;
}

function operation(path: string, method: string, op: Json, examples: string): string {
  const parameters = (op.parameters as Json[] | undefined) ?? [];
  const body = (op.requestBody as { content: Record<string, { schema: Json }> } | undefined)?.content;
  const responses = op.responses as Record<string, Response>;
  const isPublic = Array.isArray(op.security) && op.security.length === 0;
  const parameterRows = parameters.map((p) => [
    `<code>${escapeHtml(String(p.name))}</code>`,
    escapeHtml(String(p.in)),
    escapeHtml(typeOf((p.schema as Json | undefined) ?? {})),
    escapeHtml(String(p.description ?? (p.schema as Json | undefined)?.description ?? '')),
  ]);
  return `<div class="op" data-path="${escapeHtml(path)}" data-method="${method}">
<h3><span class="m ${method}">${method}</span><code>${escapeHtml(path)}</code> ${escapeHtml(String(op.summary))}${isPublic ? ' <span class="public">public</span>' : ''}</h3>
${op.description ? `<p>${escapeHtml(String(op.description))}</p>` : ''}
${parameterRows.length > 0 ? `<h4>Parameters</h4>${table(['Name', 'In', 'Type', 'Meaning'], parameterRows)}` : ''}
${
  body
    ? Object.entries(body)
        .map(
          ([type, { schema }]) =>
            `<h4>Request body <code>${escapeHtml(type)}</code></h4>${fieldsTable(schema)}`,
        )
        .join('')
    : ''
}
<h4>Responses</h4>${table(
    ['Status', 'Meaning', 'Body'],
    Object.entries(responses).map(([status, response]) => [
      `<b>${escapeHtml(status)}</b>`,
      escapeHtml(response.description),
      Object.entries(response.content ?? {})
        .map(
          ([type, { schema }]) =>
            `<code>${escapeHtml(typeOf(schema))}</code>${type === 'application/json' ? '' : ` (${escapeHtml(type)})`}`,
        )
        .join(''),
    ]),
  )}
${Object.entries(responses)
  .flatMap(([status, response]) =>
    Object.values(response.content ?? {})
      .filter(({ schema }) => status.startsWith('2') && schemaFields(schema).length > 1)
      .map(({ schema }) => `<h4>Body of the ${escapeHtml(status)}</h4>${fieldsTable(schema)}`),
  )
  .join('')}
${examples === '' ? '' : `<h4>Examples</h4>${examples}`}
</div>`;
}

/** A body as its fields: the body's own type first, then one row per field. */
function fieldsTable(schema: Json): string {
  const rows = schemaFields(schema).map((row: FieldRow) => [
    row.name === '' ? '<i>the body</i>' : `<code>${escapeHtml(row.name)}</code>`,
    `<code>${escapeHtml(row.type)}</code>${row.isRequired ? '' : ' <span class="optional">optional</span>'}`,
    escapeHtml(row.about),
  ]);
  return table(['Field', 'Type', 'Meaning'], rows);
}

/** One example: the curl command, the answer, and the example itself as data for the page's test. */
function exampleBlock(example: Example, step: number): string {
  const url = `"$CACHEGATE_URL${example.path}"`;
  const parts = ['curl', ...(example.method === 'GET' ? [] : ['-X', example.method]), url];
  if (example.withToken !== false) parts.push('-H "Authorization: Bearer $TOKEN"');
  if (example.body !== undefined) parts.push(`-d '${example.body.replaceAll("'", "'\\''")}'`);
  const headers = Object.entries(example.headers ?? {}).map(([name, value]) => `${name}: ${value}`);
  const answer = `# ${example.status}${headers.length > 0 ? ` (${headers.join(', ')})` : ''} ${JSON.stringify(example.response)}`;
  return `<div class="example" data-step="${step}" data-example="${escapeHtml(JSON.stringify(example))}"><p>${step}. ${escapeHtml(example.title)}</p><pre>${escapeHtml(`${parts.join(' ')}\n${answer}`)}</pre></div>`;
}

function table(head: string[], rows: string[][]): string {
  return `<table><tr>${head.map((cell) => `<th>${cell}</th>`).join('')}</tr>${rows
    .map((cells) => `<tr>${cells.map((cell) => `<td>${cell}</td>`).join('')}</tr>`)
    .join('')}</table>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

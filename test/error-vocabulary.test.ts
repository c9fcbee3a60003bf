import { describe, expect, it } from 'vitest';
import { GATEWAY_ERRORS, SDK_ERROR_CODES } from '../packages/client/src/errors.js';
import { ERRORS } from '../packages/server/src/errors.js';
import { markdownDocs } from './helpers/docs.js';

/** One error vocabulary: the gateway's catalog, the SDK's copy of it, its own codes, and docs/api.md agree. */

const docs = markdownDocs();
const apiReference = docs.find((doc) => doc.path === 'docs/api.md')?.text ?? '';
/** Codes such as CG_ERR_AUTH_INVALID named in a text; `CG_ERR_*` and `CG_ERR_...` name no code. */
const codesIn = (text: string) => new Set(text.match(/\bCG_ERR_[A-Z][A-Z0-9_]*[A-Z0-9]\b/g) ?? []);
const gatewayCatalog = Object.fromEntries(Object.entries(ERRORS).map(([code, { status }]) => [code, status]));
const everyCode = new Set([...Object.keys(ERRORS), ...SDK_ERROR_CODES]);

/** The rows of the catalog tables in docs/api.md: `| \`CG_ERR_X\` | 401 | meaning |` or `| \`CG_ERR_X\` | meaning |`. */
function catalogRows(): { code: string; cells: string[] }[] {
  const section = apiReference.slice(apiReference.indexOf('## Error codes'));
  const tables = section.slice(0, section.indexOf('\n## ', 1));
  return [...tables.matchAll(/^\| `(CG_ERR_[A-Z0-9_]+)` \|(.*)\|$/gm)].map((match) => ({
    code: match[1] as string,
    cells: (match[2] as string).split('|').map((cell) => cell.trim()),
  }));
}

describe('one error vocabulary', () => {
  it("the SDK knows the gateway's catalog: the same codes, with the same statuses", () => {
    expect(Object.keys(gatewayCatalog).length).toBeGreaterThan(20);
    expect(GATEWAY_ERRORS).toEqual(gatewayCatalog);
  });

  it("the SDK's own codes are for failures no gateway answer carries", () => {
    expect(SDK_ERROR_CODES).toContain('CG_ERR_OUTCOME_UNKNOWN');
    expect(SDK_ERROR_CODES.filter((code) => code in ERRORS)).toEqual([]);
  });

  it('docs/api.md lists every code exactly once, the gateway codes with their status', () => {
    const rows = catalogRows();
    expect(rows.map((row) => row.code).sort()).toEqual([...everyCode].sort());
    for (const row of rows.filter((candidate) => candidate.code in ERRORS)) {
      expect(row.cells[0], row.code).toBe(String(gatewayCatalog[row.code]));
    }
  });

  it('every Markdown file names only codes of the vocabulary', () => {
    expect(docs.length).toBeGreaterThan(10);
    const unknown = docs.flatMap((doc) =>
      [...codesIn(doc.text)].filter((code) => !everyCode.has(code)).map((code) => `${doc.path}: ${code}`),
    );
    expect(unknown).toEqual([]);
  });
});

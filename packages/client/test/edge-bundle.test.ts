import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const src = (file: string) => fileURLToPath(new URL(`../src/${file}`, import.meta.url));

/** Bundles an entry for a browser/edge target the way a Worker or Vercel Edge build would. */
async function bundleForBrowser(entry: string) {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return { code: result.outputFiles[0]?.text ?? '', inputs: Object.keys(result.metafile.inputs) };
}

const NODE_GLOBALS = /\b(Buffer|require\(|__dirname|__filename|setImmediate)\b/;
const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

describe('the isomorphic entry bundled for a browser/edge target', () => {
  it('contains no Node built-in, no Node global and no dependency', async () => {
    const { code, inputs } = await bundleForBrowser(src('index.ts'));
    expect(code.length).toBeGreaterThan(1000);
    expect(inputs.filter((input) => input.includes('node_modules'))).toEqual([]);
    expect(inputs.filter((input) => builtins.has(input))).toEqual([]);
    expect(code).not.toMatch(/from\s*["']node:/);
    expect(code).not.toMatch(NODE_GLOBALS);
    // The client itself is in the bundle, not tree-shaken away.
    expect(code).toContain('upstash-encoding');
  });

  it('the check catches Node code: the node entry cannot be bundled for the browser', async () => {
    await expect(bundleForBrowser(src('node.ts'))).rejects.toThrow(/node:|Could not resolve/);
  });
});

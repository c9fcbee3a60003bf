import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const repo = fileURLToPath(new URL('../../', import.meta.url));

/** The workspaces that are published, by folder. */
export const PACKAGES = { client: '@cachegate/client', server: '@cachegate/server' } as const;

/** One `npm pack` tarball and what is in it. */
export interface Packed {
  name: string;
  tarball: string;
  files: string[];
}

/**
 * The environment for a nested npm: the machine's, less what `npm test` and vitest set for this process
 * (an inherited npm_config_* or workspace setting would change what the nested npm does).
 */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(npm_|NODE_|VITEST|CACHEGATE_|REDIS_|INIT_CWD$|PORT$|HOST$)/i.test(key))
      continue;
    env[key] = value;
  }
  return { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', ...extra };
}

/** Runs a command, throwing with its output when it fails. */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
) {
  const result = spawnSync(command, args, {
    cwd: options.cwd ?? repo,
    env: options.env ?? cleanEnv(),
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}

/** Packs both packages from their built output (npm test builds first) into a fresh folder. */
export function packAll(): Record<keyof typeof PACKAGES, Packed> {
  const dir = mkdtempSync(join(tmpdir(), 'cachegate-pack-'));
  const args = ['pack', '--json', '--pack-destination', dir];
  for (const name of Object.values(PACKAGES)) args.push('-w', name);
  const packed = JSON.parse(run('npm', args)) as {
    name: string;
    filename: string;
    files: { path: string }[];
  }[];
  const byName = (name: string): Packed => {
    const entry = packed.find((p) => p.name === name);
    if (!entry) throw new Error(`npm pack did not pack ${name}`);
    return { name, tarball: join(dir, entry.filename), files: entry.files.map((f) => f.path).sort() };
  };
  return { client: byName(PACKAGES.client), server: byName(PACKAGES.server) };
}

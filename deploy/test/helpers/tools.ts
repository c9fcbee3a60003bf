import { spawnSync } from 'node:child_process';

/** True when `command` runs (`command --version` or the given probe exits 0). */
export function hasTool(command: string, probe: string[] = ['--version']): boolean {
  const result = spawnSync(command, probe, { stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}

/**
 * Whether a suite that needs `tool` runs: on CI (CI=true) a missing tool is a failure, because .ci/run
 * installs it; on a developer machine the suite is skipped with a message naming the apt package.
 */
export function requireTool(tool: string, aptPackage: string, probe?: string[]): boolean {
  if (hasTool(tool, probe)) return true;
  const message = `${tool} is not installed (apt-get install -y ${aptPackage}); .ci/run installs it`;
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`SKIPPED: ${message}`);
  return false;
}

/** A TCP port the OS reports free on 127.0.0.1. */
export { freePort } from '../../../packages/server/src/redis/embedded.js';

/** Polls `url` until it answers with a status below 500 or the deadline passes. */
export async function waitForHttp(url: string, timeoutMs = 20_000, init?: RequestInit): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
      if (response.status < 500) return response;
      lastError = new Error(`status ${response.status}`);
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `${url} did not answer within ${timeoutMs} ms: ${(lastError as Error)?.message ?? lastError}`,
  );
}

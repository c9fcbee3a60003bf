/**
 * The release's image step without Docker: builds deploy/Dockerfile's stages outside Docker (the same builder
 * as deploy/test/dockerfile.test.ts), starts the runtime stage's CMD with its ENV against a real
 * redis-server, and reports the time from start to `/readyz` answering 200. Run by scripts/release-dry-run.sh.
 *
 *   npx tsx scripts/image-dry-run.ts
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImageOutsideDocker, mapArgv } from '../deploy/test/helpers/dockerfile.js';
import { waitForHttp } from '../deploy/test/helpers/tools.js';
import { freePort, generateSecret, startRedisServer } from '../packages/server/src/redis/embedded.js';

const repo = fileURLToPath(new URL('../', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'cachegate-image-dry-run-'));
try {
  let started = Date.now();
  const { stages, runtime } = buildImageOutsideDocker(repo, scratch);
  console.log(`image: built stages ${stages.map((s) => s.name).join(', ')} in ${Date.now() - started} ms`);

  const password = generateSecret();
  const redis = await startRedisServer({ dir: join(scratch, 'redis'), password });
  const port = await freePort();
  const [, ...args] = mapArgv(runtime, runtime.cmd ?? []);
  started = Date.now();
  const gateway = spawn(process.execPath, args, {
    cwd: runtime.root,
    env: {
      PATH: process.env.PATH ?? '',
      ...runtime.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      CACHEGATE_REDIS_URL: redis.url,
      CACHEGATE_REDIS_PASSWORD: password,
      CACHEGATE_TOKEN: generateSecret(),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((done) => gateway.once('exit', done));
  try {
    await waitForHttp(`http://127.0.0.1:${port}/readyz`, 20_000);
    console.log(`image: runtime stage ready (/readyz 200) ${Date.now() - started} ms after start`);
    gateway.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`the runtime stage exited ${code} on SIGTERM`);
    console.log('image: drained and exited 0 on SIGTERM');
  } finally {
    gateway.kill('SIGKILL');
    await redis.stop();
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

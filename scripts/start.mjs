// `npm start`: runs the gateway, compiling it first only when a source changed since the last build.
// `tsc -b` alone would start the compiler (seconds on a busy machine) just to learn that nothing changed, so
// this compares modification times itself, and otherwise leaves the work to tsc's incremental build, which
// re-emits only what changed. The gateway then runs in this very process: npm's signals reach it directly.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const server = join(root, 'packages', 'server');
/** Written by every build that changed anything: the time the last build finished. */
const buildInfo = join(server, 'tsconfig.tsbuildinfo');
const main = join(server, 'dist', 'main.js');

/** The newest modification time under `path`: files, and folders (a deleted or renamed file changes its folder's). */
function newest(path) {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return readdirSync(path).reduce(
    (latest, name) => Math.max(latest, newest(join(path, name))),
    stats.mtimeMs,
  );
}

function isBuildFresh() {
  if (!existsSync(main) || !existsSync(buildInfo)) return false;
  const inputs = [
    join(server, 'src'),
    join(server, 'tsconfig.json'),
    join(server, 'package.json'),
    join(root, 'tsconfig.base.json'),
  ];
  return Math.max(...inputs.map(newest)) <= statSync(buildInfo).mtimeMs;
}

if (!isBuildFresh()) {
  process.stderr.write('cachegate: sources changed since the last build; compiling what changed (tsc -b)\n');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = spawnSync(process.execPath, [tsc, '-b', server], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
await import(pathToFileURL(main).href);

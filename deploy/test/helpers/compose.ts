import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const deployDir = fileURLToPath(new URL('../../', import.meta.url));
const composeFile = join(deployDir, 'compose.yaml');

type Json = Record<string, unknown>;

/** `docker-compose config`, the file resolved against an env file and parsed (YAML via python3-yaml). */
export function composeConfig(envFile: string, extraArgs: string[] = []) {
  const result = spawnSync(
    'docker-compose',
    ['-f', composeFile, '--env-file', envFile, ...extraArgs, 'config'],
    { encoding: 'utf8', cwd: deployDir, env: { ...process.env, COMPOSE_PROJECT_NAME: '' } },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** YAML text as JSON, through python3-yaml (no YAML parser among the dependencies). */
export function parseYaml(text: string): Json {
  const result = spawnSync(
    'python3',
    ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    {
      input: text,
      encoding: 'utf8',
    },
  );
  if (result.status !== 0) throw new Error(`YAML did not parse: ${result.stderr}`);
  return JSON.parse(result.stdout) as Json;
}

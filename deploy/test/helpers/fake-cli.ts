import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One recorded invocation of a fake executable. */
export interface Call {
  /** The executable's name: `gcloud`, `firebase`, `docker`. */
  tool: string;
  argv: string[];
  /** Everything the caller wrote to its standard input. */
  stdin: Buffer;
}

/** A canned answer: the first rule whose `tool` matches and whose `prefix` starts the argv applies. */
export interface Rule {
  tool: string;
  prefix: string[];
  stdout?: string;
  exit?: number;
}

/**
 * A folder of fake CLIs to put first on PATH. Each records its argv and stdin, then answers by the rules
 * (default: exit 0, no output). `sudo` just runs its arguments, so scripts meant for a VM can run here.
 */
export interface FakeBin {
  dir: string;
  calls(): Call[];
  setRules(rules: Rule[]): void;
  clear(): void;
  remove(): void;
}

const RECORDER = `#!/usr/bin/env node
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const tool = path.basename(process.argv[1]);
const argv = process.argv.slice(2);
let stdin = Buffer.alloc(0);
try { stdin = fs.readFileSync(0); } catch {}
const dir = path.dirname(process.argv[1]);
fs.appendFileSync(path.join(dir, 'calls.jsonl'), JSON.stringify({ tool, argv, stdin: stdin.toString('base64') }) + '\\n');
let rules = [];
try { rules = JSON.parse(fs.readFileSync(path.join(dir, 'rules.json'), 'utf8')); } catch {}
const rule = rules.find((r) => r.tool === tool && r.prefix.every((part, i) => argv[i] === part));
if (rule && rule.stdout) process.stdout.write(rule.stdout);
process.exit(rule && rule.exit !== undefined ? rule.exit : 0);
`;

/** Creates fake executables named `tools` in a new temporary folder. */
export function createFakeBin(tools: string[] = ['gcloud', 'firebase', 'docker']): FakeBin {
  const dir = mkdtempSync(join(tmpdir(), 'cachegate-fakebin-'));
  for (const tool of tools) {
    writeFileSync(join(dir, tool), RECORDER);
    chmodSync(join(dir, tool), 0o755);
  }
  writeFileSync(join(dir, 'sudo'), '#!/bin/sh\nexec "$@"\n');
  chmodSync(join(dir, 'sudo'), 0o755);
  const log = join(dir, 'calls.jsonl');
  return {
    dir,
    calls: () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((line) => {
              const raw = JSON.parse(line) as { tool: string; argv: string[]; stdin: string };
              return { tool: raw.tool, argv: raw.argv, stdin: Buffer.from(raw.stdin, 'base64') };
            })
        : [],
    setRules: (rules) => writeFileSync(join(dir, 'rules.json'), JSON.stringify(rules)),
    clear: () => rmSync(log, { force: true }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** What a script run printed and how it ended. */
export interface ScriptResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a script with `bin` first on PATH and an environment free of the variables the scripts read, plus
 * `env`. Standard input is `input` (empty by default), so a fake reading stdin never waits.
 */
export function runScript(
  script: string,
  args: string[],
  bin: FakeBin,
  options: { env?: Record<string, string>; input?: string | Buffer; cwd?: string } = {},
): ScriptResult {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(CACHEGATE_|CLOUDSDK_|REDIS_SERVICE_)/.test(key)) continue;
    env[key] = value;
  }
  env.PATH = `${bin.dir}:${process.env.PATH ?? ''}`;
  const result = spawnSync('bash', [script, ...args], {
    env: { ...env, ...options.env },
    input: options.input ?? '',
    cwd: options.cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

import { type ChildProcess, spawn } from 'node:child_process';
import { MAIN } from './gateway.js';

/** What a finished `cachegate <subcommand>` printed and how it exited. */
export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A running `cachegate <subcommand>` (the built command, as users run it). */
export interface CliProcess {
  child: ChildProcess;
  /** What it printed so far. */
  output(): { stdout: string; stderr: string };
  done: Promise<CliResult>;
}

/** Starts `node dist/main.js <args>` with `env` (plus PATH) and `stdin` written to its standard input. */
export function startCli(
  args: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
): CliProcess {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(options.stdin ?? '');
  const done = new Promise<CliResult>((resolve) =>
    child.once('close', (status) => resolve({ status, stdout, stderr })),
  );
  return { child, output: () => ({ stdout, stderr }), done };
}

/** Runs `cachegate <args>` to its end. */
export function runCli(
  args: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  return startCli(args, options).done;
}

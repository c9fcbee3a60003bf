import type { Readable, Writable } from 'node:stream';

/** What a subcommand works with, handed over by `main.ts` (the only module that reads the process's own). */
export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Whether stderr is a terminal: progress is then drawn as a bar, else only summed up at the end. */
  isTerminal: boolean;
  /** Where secrets not given as flags are read from (tokens, passwords). */
  env: Record<string, string | undefined>;
  /** Fires on the first Ctrl-C (SIGINT) or SIGTERM: stop cleanly and say how far it got. */
  signal: AbortSignal;
}

/** Exit statuses of the subcommands. */
export const EXIT = {
  ok: 0,
  /** Some entries or lines failed; the rest was done. */
  someFailed: 1,
  /** Wrong usage, or a failure that stopped the run (unreachable destination, token refused). */
  stopped: 2,
  /** Interrupted by Ctrl-C, after the batches in flight. */
  interrupted: 130,
} as const;

/** A problem with the command line: printed with a pointer to --help, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

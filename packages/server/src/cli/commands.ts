import { runHotKeys } from './hot-keys.js';
import { type CliIo, EXIT, UsageError } from './io.js';
import { runWarm } from './warm.js';

/** The subcommands of `cachegate` (verbs); without one, `cachegate` runs the gateway. */
const SUBCOMMANDS: Record<string, (args: string[], io: CliIo) => Promise<number>> = {
  warm: runWarm,
  'hot-keys': runHotKeys,
};

/** True when `name` is a subcommand rather than a gateway flag. */
export function isSubcommand(name: string | undefined): name is string {
  return name !== undefined && Object.hasOwn(SUBCOMMANDS, name);
}

/** One line per subcommand, for `cachegate --help`. */
export const SUBCOMMAND_USAGE = `       cachegate warm --from <file.ndjson | - | redis://...> (--url <gateway> | --redis-url <redis://...>) [options]
       cachegate hot-keys --url <gateway> --token <admin token> [--limit N]
       (cachegate <subcommand> --help for its options)`;

/**
 * Runs a subcommand and resolves with its exit status; a usage error is printed with a pointer to its
 * --help (status 2).
 */
export async function runSubcommand(name: string, args: string[], io: CliIo): Promise<number> {
  const run = SUBCOMMANDS[name];
  if (run === undefined) throw new UsageError(`unknown subcommand ${name}`);
  try {
    return await run(args, io);
  } catch (error) {
    const isParseError = String((error as NodeJS.ErrnoException).code ?? '').startsWith('ERR_PARSE_ARGS');
    if (!(error instanceof UsageError) && !isParseError) throw error;
    io.stderr.write(`cachegate ${name}: ${(error as Error).message}. Run cachegate ${name} --help.\n`);
    return EXIT.stopped;
  }
}

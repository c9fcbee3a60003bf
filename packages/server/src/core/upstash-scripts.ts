import { hash } from 'node:crypto';
import type { Arg, Command } from '../redis/types.js';

/**
 * Shebang flags that only Upstash's Redis knows. Upstream Redis refuses a script naming one
 * (`ERR Unexpected flag in script shebang`), and Upstash's docs and `@upstash/ratelimit` use them.
 * Flags upstream Redis knows, and misspellings, are left for Redis to judge.
 */
const UPSTASH_ONLY_FLAGS: ReadonlySet<string> = new Set(['allow-key-locking']);

/** The commands whose scripts or digests {@link UpstashScripts.rewrite} looks at (command-table names). */
export const SCRIPT_COMMANDS: ReadonlySet<string> = new Set([
  'eval',
  'eval_ro',
  'evalsha',
  'evalsha_ro',
  'script|load',
  'script|exists',
]);

/** Digests remembered per process; a hostile caller cannot grow the map past this. */
const MAX_DIGESTS = 10_000;

/** A script command as Redis must receive it. */
export interface RewrittenScript {
  readonly args: Command;
  /** For `SCRIPT LOAD`: the digest to answer with (the one the client computed), instead of Redis's. */
  readonly answer?: string;
}

/**
 * Runs scripts written for Upstash on upstream Redis: strips the Upstash-only shebang flags and keeps the
 * rest of the script byte for byte. The client knows a script by the SHA-1 of the text it sent, Redis by
 * the SHA-1 of the text it ran, so this remembers one for the other and translates `EVALSHA`,
 * `EVALSHA_RO` and `SCRIPT EXISTS`, and `SCRIPT LOAD`'s answer. The memory is per process and unaware of
 * Redis restarts: an unknown or flushed digest is Redis's plain `NOSCRIPT`, which clients answer with `EVAL`
 * (`@upstash/redis` scripts do). See docs/decisions/0011-upstash-script-flags.md.
 */
export class UpstashScripts {
  /** Lower-case SHA-1 of the script as the client sent it → SHA-1 of the script Redis holds. */
  readonly #digests = new Map<string, string>();

  /**
   * The command to send instead of `args` (a command of {@link SCRIPT_COMMANDS}, `name` as in the command
   * table), or undefined when it goes as it is.
   */
  rewrite(name: string, args: Command): RewrittenScript | undefined {
    switch (name) {
      case 'eval':
      case 'eval_ro':
        return this.#withScript(args, 1, false);
      case 'script|load':
        return this.#withScript(args, 2, true);
      case 'evalsha':
      case 'evalsha_ro':
        return this.#withDigests(args, 1, 2);
      case 'script|exists':
        return this.#withDigests(args, 2, args.length);
      default:
        return undefined;
    }
  }

  #withScript(args: Command, at: number, answer: boolean): RewrittenScript | undefined {
    const script = args[at];
    if (script === undefined) return undefined;
    const stripped = stripUpstashFlags(script);
    if (stripped === undefined) return undefined;
    const sent = hash('sha1', script);
    this.#remember(sent, hash('sha1', stripped));
    const rewritten = args.slice();
    rewritten[at] = stripped;
    return answer ? { args: rewritten, answer: sent } : { args: rewritten };
  }

  #withDigests(args: Command, from: number, to: number): RewrittenScript | undefined {
    let rewritten: Command | undefined;
    for (let i = from; i < to && i < args.length; i++) {
      const held = this.#digests.get(String(args[i]).toLowerCase());
      if (held === undefined) continue;
      rewritten ??= args.slice();
      rewritten[i] = held;
    }
    return rewritten === undefined ? undefined : { args: rewritten };
  }

  #remember(sent: string, held: string): void {
    if (this.#digests.size >= MAX_DIGESTS && !this.#digests.has(sent)) {
      // Forget the oldest: at worst a client's EVALSHA misses once and it falls back to EVAL.
      const oldest = this.#digests.keys().next().value;
      if (oldest !== undefined) this.#digests.delete(oldest);
    }
    this.#digests.set(sent, held);
  }
}

/**
 * The script without its Upstash-only shebang flags, or undefined when it names none. Only the `flags=`
 * list of the first line changes: `#!lua flags=allow-key-locking,no-writes` runs as `#!lua flags=no-writes`,
 * and `#!lua flags=allow-key-locking` as `#!lua flags=` (a shebang without flags, as Upstash means it).
 */
export function stripUpstashFlags(script: Arg): Arg | undefined {
  // Scripts without a shebang, the common case, cost two byte reads.
  if (script[0] !== (typeof script === 'string' ? '#' : 0x23)) return undefined;
  if (script[1] !== (typeof script === 'string' ? '!' : 0x21)) return undefined;
  const text = typeof script === 'string' ? script : undefined;
  const newline = script.indexOf('\n');
  const end = newline === -1 ? script.length : newline;
  // latin1 maps bytes to characters one to one, so a Buffer's first line converts back exactly.
  const line = text === undefined ? (script as Buffer).toString('latin1', 0, end) : text.slice(0, end);
  const kept = line.replace(/(?<=\sflags=)\S*/, (list) =>
    list
      .split(',')
      .filter((flag) => !UPSTASH_ONLY_FLAGS.has(flag))
      .join(','),
  );
  if (kept === line) return undefined;
  if (text !== undefined) return kept + text.slice(end);
  return Buffer.concat([Buffer.from(kept, 'latin1'), (script as Buffer).subarray(end)]);
}

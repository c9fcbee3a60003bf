import type { Arg, Command } from './types.js';

/**
 * Keys the gateway keeps for itself (the saved hot set, decision 0036). Read and write tokens cannot touch
 * them: their scope users' key patterns leave this prefix out, so Redis refuses them with NOPERM wherever
 * they are named, inside scripts too. Admin tokens run as the gateway's own user and may.
 */
export const RESERVED_PREFIX = '__cachegate:';

/** Characters that mean something in a Redis glob pattern. */
const GLOB_SPECIAL = /[*?[\]\\]/g;

/**
 * ACL key patterns (`~...`) that match every key except those starting with `prefix`. Redis patterns have
 * no negation, so the complement is spelled out: for each position `i` of the prefix, the keys that agree
 * with it before `i` and differ at `i` (`~__cachegat[^e]*`), and each proper prefix of it exactly, the empty
 * key included (`~__cachegat`, `~`).
 */
export function keyPatternsExcluding(prefix: string): string[] {
  const patterns: string[] = [];
  for (let i = 0; i < prefix.length; i++) {
    const head = escapeGlob(prefix.slice(0, i));
    patterns.push(`~${head}[^${escapeInClass(prefix.charAt(i))}]*`, `~${head}`);
  }
  return patterns;
}

/** The key patterns of the scope users: every key but the reserved ones. */
export const SCOPE_KEY_PATTERNS: readonly string[] = keyPatternsExcluding(RESERVED_PREFIX);

/**
 * True when an argument of the command starts with the reserved prefix. It looks at every argument, not
 * only keys (so a value may match too): a cheap test that errs on the safe side, for the paths that run
 * commands with the gateway's own rights on a caller's behalf (the near cache's reader, shared reads).
 */
export function touchesReservedKey(args: Command): boolean {
  for (let i = 1; i < args.length; i++) if (isReserved(args[i] as Arg)) return true;
  return false;
}

function isReserved(arg: Arg): boolean {
  return typeof arg === 'string'
    ? arg.startsWith(RESERVED_PREFIX)
    : arg.length >= RESERVED_PREFIX.length &&
        arg.toString('latin1', 0, RESERVED_PREFIX.length) === RESERVED_PREFIX;
}

function escapeGlob(text: string): string {
  return text.replace(GLOB_SPECIAL, (c) => `\\${c}`);
}

function escapeInClass(c: string): string {
  return c === ']' || c === '\\' || c === '^' || c === '-' ? `\\${c}` : c;
}

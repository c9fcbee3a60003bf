import { hash } from 'node:crypto';
import { RESERVED_PREFIX } from '../auth/namespace.js';
import type { Principal } from '../auth/principal.js';
import { roleOf } from '../auth/role.js';
import { gatewayError } from '../errors.js';
import type { PlannedCommand } from '../redis/backend.js';
import type { Arg, Command } from '../redis/types.js';

/**
 * Where the main admin's approvals live, on the main Redis: a set of SHA-1 digests, under the gateway's
 * prefix, which no scope user may read or write.
 */
export const APPROVED_SCRIPTS_KEY = `${RESERVED_PREFIX}approved-scripts`;

/** Approvals remembered per process; a hostile caller cannot grow the set past this. */
const MAX_REMEMBERED = 10_000;

/** How the executor reads the approvals on Redis: one command, as the gateway itself. */
export type AskRedis = (command: Command) => Promise<unknown>;

/**
 * `CACHEGATE_SCRIPTS=approved` (decision 0020). A script that has written cannot be killed: Redis answers
 * every other caller BUSY until it ends, or until SHUTDOWN NOSAVE. In this mode, only the main admin runs
 * scripts it wrote itself; every other token runs a script (`EVAL`, `EVALSHA`) only once the main admin
 * approved it, by loading it through the gateway (`SCRIPT LOAD`) or by adding its SHA-1 to the set
 * {@link APPROVED_SCRIPTS_KEY} (or `CACHEGATE_APPROVED_SCRIPTS`). Read-only scripts (`EVAL_RO`,
 * `EVALSHA_RO`) may always run: Redis can kill them. Functions are loaded by admins only, so `FCALL` runs.
 */
export class ScriptApproval {
  readonly #isRequired: boolean;
  /** Digests known to be approved: configured, or found in the set. */
  readonly #approved: Set<string>;

  constructor(mode: 'any' | 'approved', configured: readonly string[] = []) {
    this.#isRequired = mode === 'approved';
    this.#approved = new Set(configured.map((digest) => digest.toLowerCase()));
  }

  /**
   * Checks a batch before it runs. Resolves when every script in it may run; the first time a digest is
   * met it is looked up on Redis (through `ask`), and remembered once approved.
   * @throws {GatewayError} 403 CG_ERR_COMMAND_DENIED naming the digest to approve.
   */
  async check(principal: Principal, planned: readonly PlannedCommand[], ask: AskRedis): Promise<void> {
    if (!this.#isRequired || roleOf(principal) === 'admin') return;
    for (const { args, info } of planned) {
      const digest = info === undefined ? undefined : digestOf(info.name, args);
      if (digest === undefined || this.#approved.has(digest)) continue;
      const found = await ask(['SISMEMBER', APPROVED_SCRIPTS_KEY, digest]);
      if (found !== 1) {
        throw gatewayError(
          'CG_ERR_COMMAND_DENIED',
          `The script ${digest} is not approved (CACHEGATE_SCRIPTS=approved): the main admin approves it ` +
            `with SCRIPT LOAD through the gateway, or SADD ${APPROVED_SCRIPTS_KEY} ${digest}`,
        );
      }
      if (this.#approved.size < MAX_REMEMBERED) this.#approved.add(digest);
    }
  }

  /**
   * The commands that approve what the main admin loads (`SCRIPT LOAD`), to run after it in the same
   * batch; none in other modes or for other tokens.
   */
  approvals(principal: Principal, planned: readonly PlannedCommand[]): Command[] {
    if (!this.#isRequired || roleOf(principal) !== 'admin') return [];
    const digests = planned
      .filter(({ info }) => info?.name === 'script|load')
      .map(({ args }) => sha1(args[2] ?? ''));
    return digests.length === 0 ? [] : [['SADD', APPROVED_SCRIPTS_KEY, ...digests]];
  }
}

/** The digest of the script a command runs, for scripts that may write; undefined for anything else. */
function digestOf(name: string, args: Command): string | undefined {
  if (name === 'eval') return sha1(args[1] ?? '');
  if (name === 'evalsha') return String(args[1] ?? '').toLowerCase();
  return undefined;
}

function sha1(script: Arg): string {
  return hash('sha1', script);
}

import { ErrorReply } from '@redis/client';
import { GatewayError, gatewayError } from '../errors.js';
import type { RedisBackend } from './connect.js';
import { TransactionAbortedError } from './connect.js';
import { denialReason, type ExecutionMode, type Principal } from './policy.js';
import type { Command, Reply } from './types.js';

/** Options for {@link CommandExecutor}. */
export interface ExecutorOptions {
  /** Longest wait for Redis before a request fails with 503. */
  commandTimeoutMs: number;
}

/** What one batch produced: a reply (or Redis error) per command, in order, and whether it wrote. */
export interface BatchResult {
  readonly replies: Reply[];
  /** True when any command of the batch may have changed data (drives the read-your-writes sync token). */
  readonly wrote: boolean;
}

/**
 * The one way commands reach Redis. Every route, Upstash-style or cache API, turns its request into command
 * arrays and calls {@link CommandExecutor.run}, which applies the policy to the whole batch before anything
 * runs, then executes it within the command timeout.
 */
export class CommandExecutor {
  constructor(
    private readonly backend: RedisBackend,
    private readonly options: ExecutorOptions,
  ) {}

  /**
   * Runs a batch for a principal. Redis errors for individual commands come back as ErrorReply entries;
   * everything that fails the whole batch throws a {@link GatewayError}:
   * 403 when the policy denies any command (nothing runs), 503 when Redis is down or too slow,
   * 400 when Redis discards a transaction.
   */
  async run(principal: Principal, mode: ExecutionMode, commands: Command[]): Promise<BatchResult> {
    const table = this.backend.commandTable;
    if (table === undefined || !this.backend.isReady) throw gatewayError('CG_ERR_REDIS_UNAVAILABLE');
    let wrote = false;
    for (const command of commands) {
      const denial = denialReason(table, principal, command);
      if (denial !== undefined) throw gatewayError('CG_ERR_COMMAND_DENIED', denial);
      wrote ||= table.lookup(command)?.isMutating ?? true;
    }
    const replies = await this.#withTimeout(this.#execute(principal, mode, commands));
    return { replies, wrote };
  }

  #execute(principal: Principal, mode: ExecutionMode, commands: Command[]): Promise<Reply[]> {
    const user = principal.redisUser;
    if (mode === 'transaction') return this.backend.transaction(commands, user);
    // Sent in one tick, the commands leave in one write: node-redis pipelines them automatically.
    return Promise.all(commands.map((command) => this.backend.send(command, user).catch(asReply)));
  }

  #withTimeout(work: Promise<Reply[]>): Promise<Reply[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(gatewayError('CG_ERR_REDIS_TIMEOUT')), this.options.commandTimeoutMs);
    });
    return Promise.race([work.catch(toGatewayError), timeout]).finally(() => clearTimeout(timer));
  }
}

/** A Redis error reply is a result for that command; any other failure fails the batch. */
function asReply(error: unknown): Reply {
  if (error instanceof ErrorReply) return error;
  throw error;
}

function toGatewayError(error: unknown): never {
  if (error instanceof GatewayError) throw error;
  if (error instanceof TransactionAbortedError)
    throw gatewayError('CG_ERR_TRANSACTION_ABORTED', error.message);
  // Everything else is the connection: offline, closed, reset, queue full. The caller may retry.
  throw gatewayError('CG_ERR_REDIS_UNAVAILABLE', undefined, error);
}

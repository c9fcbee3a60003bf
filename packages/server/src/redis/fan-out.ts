import type { CommandInfo } from './command-table.js';
import { ErrorReply } from './resp.js';
import type { Command, Reply } from './types.js';

/**
 * Combines the replies of a command run on every cluster master, as the command's `response_policy` tip
 * says (https://redis.io/docs/latest/develop/reference/command-tips/). Any error wins, as on one node.
 * Without a policy, arrays concatenate (KEYS) and anything else takes the first non-null reply (RANDOMKEY).
 */
export function combineReplies(info: CommandInfo, replies: Reply[]): Reply {
  const error = replies.find((reply) => reply instanceof ErrorReply);
  if (error !== undefined) return error;
  switch (info.responsePolicy) {
    case 'agg_sum':
      return replies.reduce<number>((sum, reply) => sum + Number(reply), 0);
    case 'agg_min':
      return Math.min(...replies.map(Number));
    case 'agg_max':
      return Math.max(...replies.map(Number));
    case 'agg_logical_and':
    case 'agg_logical_or':
      return combineFlags(replies, info.responsePolicy === 'agg_logical_and');
    case 'all_succeeded':
    case 'one_succeeded':
      return replies[0] ?? null;
  }
  if (replies.every(Array.isArray)) return (replies as Reply[][]).flat();
  const shuffled = [...replies].sort(() => Math.random() - 0.5);
  return shuffled.find((reply) => reply !== null) ?? null;
}

/** Element-wise AND/OR of integer arrays (SCRIPT EXISTS) or of integers. */
function combineFlags(replies: Reply[], and: boolean): Reply {
  const op = (a: number, b: number) => (and ? Number(a && b) : Number(a || b));
  if (replies.every(Array.isArray)) {
    const [first = [], ...rest] = replies as number[][];
    return first.map((flag, i) => rest.reduce((acc, reply) => op(acc, Number(reply[i])), Number(flag)));
  }
  return replies.map(Number).reduce(op);
}

/** Room for the master index in a SCAN cursor (the low 10 bits): up to 1024 masters. */
const MASTER_SLOTS = 1024n;

/**
 * SCAN over every master behind one cursor: the cursor carries the node's own cursor and the index of the
 * master being scanned (`cursor * 1024 + index`). When one master is done the next one starts; "0" ends
 * the walk. Keys added or masters changed during a scan follow SCAN's usual weak guarantees.
 */
export async function scanAcrossMasters(
  command: Command,
  masters: string[],
  send: (address: string, command: Command) => Promise<Reply>,
): Promise<Reply> {
  let composite: bigint;
  try {
    composite = BigInt(String(command[1] ?? '0'));
  } catch {
    return new ErrorReply('ERR invalid cursor');
  }
  const index = Number(composite % MASTER_SLOTS);
  const address = masters[index];
  if (address === undefined) return new ErrorReply('ERR invalid cursor');
  const reply = await send(address, [
    command[0] as string,
    String(composite / MASTER_SLOTS),
    ...command.slice(2),
  ]);
  if (!Array.isArray(reply)) return reply;
  const [next, keys] = reply as [Reply, Reply];
  const nodeCursor = BigInt(String(next));
  const following =
    nodeCursor !== 0n
      ? nodeCursor * MASTER_SLOTS + BigInt(index)
      : index + 1 < masters.length
        ? BigInt(index + 1)
        : 0n;
  return [String(following), keys];
}

import { RESERVED_PREFIX } from '../auth/namespace.js';
import type { Command, Reply } from '../redis/types.js';

/** Where each Redis keeps the hot set its gateways saved (decision 0036): a reserved key. */
export const SAVED_HOT_SET_KEY = `${RESERVED_PREFIX}hot-set`;

/** A saved hot set outlives a week without gateways, then Redis drops it. */
const KEEP_SECONDS = 7 * 24 * 3600;

/** Runs commands with the gateway's own rights on the main Redis (the executor's `runAsGateway`). */
export type RunAsGateway = (commands: Command[]) => Promise<Reply[]>;

/** The stored form: the keys, most read first, and when they were saved. */
interface Stored {
  savedAt: string;
  keys: string[];
}

/** Saves the hot set's keys, most read first, replacing what any gateway saved before. */
export async function saveHotSet(run: RunAsGateway, keys: readonly string[]): Promise<void> {
  const stored: Stored = { savedAt: new Date().toISOString(), keys: [...keys] };
  const [reply] = await run([['SET', SAVED_HOT_SET_KEY, JSON.stringify(stored), 'EX', String(KEEP_SECONDS)]]);
  if (reply instanceof Error) throw reply;
}

/** The saved keys, most read first; none when nothing (readable) was saved. */
export async function loadHotSet(run: RunAsGateway): Promise<string[]> {
  const [reply] = await run([['GET', SAVED_HOT_SET_KEY]]);
  if (reply instanceof Error) throw reply;
  if (!Buffer.isBuffer(reply) && typeof reply !== 'string') return [];
  try {
    const stored = JSON.parse(String(reply)) as Partial<Stored>;
    return Array.isArray(stored.keys)
      ? stored.keys.filter((key): key is string => typeof key === 'string')
      : [];
  } catch {
    return [];
  }
}

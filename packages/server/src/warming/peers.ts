import type { Cluster, Worker } from 'node:cluster';
import { type HotKey, mergeHotKeys } from './top-k.js';

/**
 * The other gateway processes of this host (`CACHEGATE_WORKERS` > 1), as the hot set sees them: each worker
 * follows the reads it serves, so a question about the hot set is asked of all of them.
 */
export interface HotKeysPeers {
  /** Answers the other processes' questions with this process's hot keys of a database. */
  serve(local: (database: string) => HotKey[]): void;
  /**
   * Every process's hot keys of `database` (this one's included), summed key by key, most read first;
   * undefined when no answer came in time (the caller then answers with its own).
   */
  collect(database: string, limit: number): Promise<{ keys: HotKey[]; processes: number } | undefined>;
  close(): void;
}

/** How long the primary waits for the workers' answers; a worker that is slower is left out. */
const GATHER_MS = 1000;
/** How long a worker waits for the primary's merged answer. */
const ASK_MS = 2500;

/** worker -> primary: merge everyone's hot keys for me. */
const ASK = 'cachegate:hot-keys:ask';
/** primary -> every worker: send me yours. */
const REPORT_REQUEST = 'cachegate:hot-keys:report-request';
/** worker -> primary: mine. */
const REPORT = 'cachegate:hot-keys:report';
/** primary -> the asking worker: everyone's, merged. */
const ANSWER = 'cachegate:hot-keys:answer';

interface Message {
  type: string;
  id: number;
  database?: string;
  limit?: number;
  keys?: HotKey[];
  processes?: number;
}

function isMessage(value: unknown): value is Message {
  const type = (value as Message | null)?.type;
  return typeof type === 'string' && type.startsWith('cachegate:hot-keys:');
}

/**
 * The worker side of {@link HotKeysPeers}, over node:cluster's IPC channel to the primary, which relays
 * (see {@link relayHotKeys}).
 */
export function clusterWorkerPeers(channel: NodeJS.Process = process): HotKeysPeers {
  let nextId = 1;
  const waiting = new Map<number, (answer: Message) => void>();
  let local: ((database: string) => HotKey[]) | undefined;
  const onMessage = (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.type === REPORT_REQUEST) {
      const keys = local?.(message.database ?? '') ?? [];
      channel.send?.({ type: REPORT, id: message.id, keys } satisfies Message);
    } else if (message.type === ANSWER) {
      waiting.get(message.id)?.(message);
    }
  };
  channel.on('message', onMessage);
  return {
    serve: (answer) => {
      local = answer;
    },
    collect: (database, limit) => {
      if (channel.send === undefined || !channel.connected) return Promise.resolve(undefined);
      const id = nextId++;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          resolve(undefined);
        }, ASK_MS);
        timer.unref();
        waiting.set(id, (answer) => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve({ keys: answer.keys ?? [], processes: answer.processes ?? 0 });
        });
        channel.send?.({ type: ASK, id, database, limit } satisfies Message);
      });
    },
    close: () => {
      channel.off('message', onMessage);
      waiting.clear();
    },
  };
}

/**
 * The primary's side: when a worker asks, asks every live worker for its hot keys, waits up to
 * {@link GATHER_MS}, and answers the asker with the sum. Returns a function that stops relaying.
 */
export function relayHotKeys(cluster: Cluster): () => void {
  let nextId = 1;
  const gathering = new Map<number, { lists: HotKey[][]; expected: number; done: () => void }>();
  const onMessage = (from: Worker, message: unknown) => {
    if (!isMessage(message)) return;
    if (message.type === REPORT) {
      const gather = gathering.get(message.id);
      if (gather === undefined) return;
      gather.lists.push(message.keys ?? []);
      if (gather.lists.length >= gather.expected) gather.done();
      return;
    }
    if (message.type !== ASK) return;
    const workers = Object.values(cluster.workers ?? {}).filter(
      (worker): worker is Worker => worker?.isConnected() === true,
    );
    const id = nextId++;
    const lists: HotKey[][] = [];
    const finish = () => {
      clearTimeout(timer);
      gathering.delete(id);
      if (!from.isConnected()) return;
      const keys = mergeHotKeys(lists, message.limit ?? 1000);
      from.send({ type: ANSWER, id: message.id, keys, processes: lists.length } satisfies Message);
    };
    const timer = setTimeout(finish, GATHER_MS);
    gathering.set(id, { lists, expected: workers.length, done: finish });
    if (workers.length === 0) finish();
    for (const worker of workers) {
      worker.send({ type: REPORT_REQUEST, id, database: message.database ?? '' } satisfies Message);
    }
  };
  cluster.on('message', onMessage);
  return () => {
    cluster.off('message', onMessage);
  };
}

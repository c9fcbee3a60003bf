import { type ConnectionOptions, RedisConnection } from './connection.js';
import { ErrorReply } from './resp.js';

/**
 * Receives one line of MONITOR output as Redis wrote it, without the leading `+`:
 * `1721284005.242090 [0 127.0.0.1:60866] "GET" "k"`. Redis escapes every byte that is not printable, so a
 * line never holds a newline.
 */
export type MonitorListener = (line: string) => void;

/** Ends a MONITOR stream and closes its connection(s). Safe to call more than once. */
/** Where a MONITOR stream's lines go, and what runs when it ends on the server side. */
export interface MonitorStream {
  readonly listener: MonitorListener;
  readonly onEnd: () => void;
}

export type StopMonitor = () => void;

/**
 * Opens a dedicated connection to one server, logs in as `options` say (the same credentials, TLS and
 * database handshake as every gateway connection), sends MONITOR and resolves once Redis confirmed it.
 * The connection never reconnects: a lost one calls `onEnd` (once, and never after the stop function ran),
 * since a monitor that silently resumed would hide the gap.
 * @param deadline absolute `Date.now()` time by which Redis must have confirmed.
 * @throws {ErrorReply} when Redis refused MONITOR (NOPERM for an ACL user); connection failures as the
 *   error classes of connection.ts.
 * @see https://redis.io/docs/latest/commands/monitor/
 */
export async function openMonitor(
  options: ConnectionOptions,
  listener: MonitorListener,
  onEnd: () => void,
  deadline: number,
): Promise<StopMonitor> {
  const connection = new RedisConnection({
    ...options,
    startAfter: undefined,
    reconnects: false,
    onPush: (reply) => {
      if (typeof reply === 'string') listener(reply);
    },
  });
  let isStarted = false;
  let isStopped = false;
  const stop = () => {
    if (isStopped) return;
    isStopped = true;
    void connection.close();
  };
  connection.once('end', () => {
    if (!isStarted || isStopped) return;
    isStopped = true;
    onEnd();
  });
  try {
    const [reply] = await connection.send([['MONITOR']], deadline);
    if (reply instanceof ErrorReply) throw reply;
  } catch (error) {
    stop();
    throw error;
  }
  isStarted = true;
  return stop;
}

/**
 * Runs several monitors as one stream (Cluster: one per master): all of them or none, and when one ends,
 * the others are stopped and `onEnd` runs once, so that a reader never sees a stream that silently lost
 * a shard. `onEnd` may run before the promise settles; the caller stops what it gets back either way.
 */
export async function openMonitors(
  opens: ((onEnd: () => void) => Promise<StopMonitor>)[],
  onEnd: () => void,
): Promise<StopMonitor> {
  let stops: StopMonitor[] = [];
  let isEnded = false;
  const stopAll = () => {
    for (const stop of stops) stop();
  };
  const endAll = () => {
    if (isEnded) return;
    isEnded = true;
    stopAll();
    onEnd();
  };
  const results = await Promise.allSettled(opens.map((open) => open(endAll)));
  stops = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = results.find((result) => result.status === 'rejected');
  if (failure !== undefined || isEnded) {
    isEnded = true;
    stopAll();
    if (failure !== undefined) throw failure.reason;
  }
  return () => {
    isEnded = true;
    stopAll();
  };
}

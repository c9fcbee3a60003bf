import type { ServerResponse } from 'node:http';
import { gatewayError } from '../../errors.js';
import type { DrainState } from '../../http/adapter.js';

/** A comment line now and then keeps idle proxies and load balancers from closing a quiet stream. */
export const HEARTBEAT_MS = 25_000;

/**
 * Unsent bytes past which a reader is too slow for its stream: the stream is ended rather than buffered
 * without bound (MONITOR on a busy Redis, or messages published faster than a paused reader takes them),
 * and the client may reopen it.
 */
const MAX_UNSENT_BYTES = 4 * 1024 * 1024;

/**
 * Refuses a new stream once `maxStreams` (CACHEGATE_MAX_STREAMS) are open in this process: streams do not
 * count as requests in flight, so that open ones never crowd out requests, and are capped here instead.
 * @throws {GatewayError} 503 CG_ERR_OVERLOADED
 */
export function admitStream(drain: DrainState, maxStreams: number): void {
  if (drain.streams.size >= maxStreams) {
    throw gatewayError('CG_ERR_OVERLOADED', `Too many streams open (CACHEGATE_MAX_STREAMS=${maxStreams})`);
  }
}

/**
 * Writes one event to a stream, unless its reader fell {@link MAX_UNSENT_BYTES} behind: then the stream
 * ends (`end`) and its connection closes, since ending the response alone would keep every unsent byte
 * until the reader took it.
 */
export function writeEvent(res: ServerResponse, text: string, end: () => void): void {
  if (res.writableLength <= MAX_UNSENT_BYTES) {
    res.write(text);
    return;
  }
  end();
  res.destroy();
}

/** One server-sent event carrying `fields` joined by commas, as the Upstash SDK parses them. */
export function event(...fields: string[]): string {
  // A newline inside a message starts a new data line; SSE readers join them with "\n".
  return `${fields
    .join(',')
    .split('\n')
    .map((line) => `data: ${line}`)
    .join('\n')}\n\n`;
}

/**
 * Whether an `Accept` header lets the answer be `text/event-stream`. No header accepts anything
 * (RFC 9110, 12.5.1); parameters and weights other than `q=0` are not weighed.
 */
export function acceptsEventStream(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    if (params.some((param) => /^q=0(\.0*)?$/.test(param))) return false;
    return type === 'text/event-stream' || type === 'text/*' || type === '*/*';
  });
}

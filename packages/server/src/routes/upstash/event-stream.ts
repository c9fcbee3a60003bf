import type { ServerResponse } from 'node:http';
import type { AnswerReservation } from '../../answer-budget.js';

/** A comment line now and then keeps idle proxies and load balancers from closing a quiet stream. */
export const HEARTBEAT_MS = 25_000;

/**
 * Unsent bytes past which a reader is too slow for its stream: the stream ends rather than buffer without
 * bound (MONITOR on a busy Redis, messages published faster than a paused reader takes them, one message
 * larger than this), and the client may reopen it. Unsent bytes are also held in the stream's share of
 * the AnswerBudget, so that many stalled streams together cannot hold more than the process allows.
 */
export const MAX_UNSENT_STREAM_BYTES = 4 * 1024 * 1024;

/**
 * Writes one event to a stream, checking first that its reader keeps up: if the event would leave more
 * than {@link MAX_UNSENT_STREAM_BYTES} unsent, or the process's answers cannot hold it, the stream ends
 * (`end`) and its connection closes, since ending the response alone would keep every unsent byte until
 * the reader took it.
 */
export function writeEvent(
  res: ServerResponse,
  reservation: AnswerReservation,
  text: string,
  end: () => void,
): void {
  const unsent = res.writableLength + text.length;
  const more = unsent - reservation.bytes;
  if (more < 0) reservation.refund(-more);
  if (unsent > MAX_UNSENT_STREAM_BYTES || (more > 0 && reservation.charge(more) !== undefined)) {
    end();
    res.destroy();
    return;
  }
  if (res.write(text) || res.listenerCount('drain') > 0) return;
  // Everything unsent is sent once it drains: the stream holds nothing until its next write.
  res.once('drain', () => reservation.refund(reservation.bytes));
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
 * The event for a published message, or undefined when it would be larger than
 * {@link MAX_UNSENT_STREAM_BYTES}: sized from the message's bytes before any string is made of it, since each
 * line break in it costs a new `data: ` line.
 */
export function messageEvent(fields: string[], message: Buffer): string | undefined {
  let size = message.length + 8;
  for (const field of fields) size += field.length + 1;
  if (size > MAX_UNSENT_STREAM_BYTES) return undefined;
  for (let at = message.indexOf(10); at !== -1; at = message.indexOf(10, at + 1)) {
    size += 6;
    if (size > MAX_UNSENT_STREAM_BYTES) return undefined;
  }
  return event(...fields, message.toString());
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

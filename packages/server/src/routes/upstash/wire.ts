import {
  pipelineItemJson,
  pipelineItemLength,
  pipelineItemPieces,
  resultJson,
  resultJsonBound,
  resultJsonLength,
  resultJsonPieces,
} from '../../core/encode-result.js';
import { type BatchResult, droppedReplyError } from '../../core/executor.js';
import { type ErrorCode, gatewayError } from '../../errors.js';
import { JSON_TYPE, type RequestContext } from '../../http/context.js';
import { DroppedReply, ErrorReply, encodeReply } from '../../redis/resp.js';
import type { Command, Reply, ReplyForm } from '../../redis/types.js';
import { type BodySource, checkJsonText, parseJsonBody } from '../json-body.js';
import type { JsonShape } from '../json-scan.js';
import type { SyncToken } from './sync-token.js';

/** The command of a `POST /` body: `["SET", "key", "value", "EX", 60]`. */
export function commandFromBody(source: BodySource): Command {
  const { value, text } = parseJsonBody(source, (shape) => flatterThan(shape, 1, 'The request body'));
  const seen = { number: false };
  const command = toCommand(value, 'The request body', seen);
  if (seen.number) checkJsonText(text, Number.POSITIVE_INFINITY);
  return command;
}

/** The commands of a `/pipeline` or `/multi-exec` body, within CACHEGATE_MAX_PIPELINE. */
export function commandsFromBody(source: BodySource, maxCommands: number, route: string): Command[] {
  const { value, text } = parseJsonBody(source, (shape) => flatterThan(shape, 2, `A ${route} body`));
  if (!Array.isArray(value)) {
    throw gatewayError(
      'CG_ERR_REQUEST_INVALID',
      `${route} takes a JSON array of commands such as [["SET","k","v"],["GET","k"]]`,
    );
  }
  if (value.length > maxCommands) {
    throw gatewayError(
      'CG_ERR_PIPELINE_TOO_LARGE',
      `${route} got ${value.length} commands; the limit is ${maxCommands} (CACHEGATE_MAX_PIPELINE)`,
    );
  }
  const seen = { number: false };
  const commands = value.map((item, index) => toCommand(item, `command ${index} of ${route}`, seen));
  if (seen.number) checkJsonText(text, Number.POSITIVE_INFINITY);
  return commands;
}

/**
 * Why a body cannot be commands, told from its shape alone, before it is parsed: commands hold no object,
 * and nest no deeper than `depth` (a command is an array of scalars; a batch, an array of commands).
 */
function flatterThan(shape: JsonShape, depth: number, what: string): string | undefined {
  if (!shape.hasObject && shape.depth <= depth) return undefined;
  return depth === 1
    ? `${what} must be a JSON array of strings, numbers or booleans, such as ["GET","key"]`
    : `${what} must be a JSON array of commands, each an array of strings, numbers or booleans, such as [["SET","k","v"],["GET","k"]]`;
}

/**
 * Validates one command of an Upstash JSON body: a non-empty array of strings, numbers and booleans, which
 * become the command's arguments as text. Notes in `seen` whether a number was among them, whose exactness
 * the caller then checks against the body's text.
 * @param where names the command in errors, e.g. "command 3 of the pipeline".
 */
function toCommand(value: unknown, where: string, seen: { number: boolean }): Command {
  if (!Array.isArray(value) || value.length === 0) {
    throw gatewayError(
      'CG_ERR_REQUEST_INVALID',
      `${where} must be a non-empty JSON array such as ["GET","key"]`,
    );
  }
  const command: Command = new Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const arg: unknown = value[i];
    if (typeof arg === 'string') command[i] = arg;
    else if (typeof arg === 'number') {
      seen.number = true;
      command[i] = String(arg);
    } else if (typeof arg === 'boolean') command[i] = String(arg);
    else {
      throw gatewayError(
        'CG_ERR_REQUEST_INVALID',
        `${where}: argument ${i} is ${arg === null ? 'null' : typeof arg}; arguments must be strings, numbers or booleans`,
      );
    }
  }
  return command;
}

const RESP2_TYPE = 'application/octet-stream';

/**
 * The reply form a request asks for, from its headers: `resp2` for `Upstash-Response-Format: resp2` (raw
 * RESP2 bytes), `bytes` for `Upstash-Encoding: base64` (JSON with base64 strings), else `text` (JSON).
 * @param resp2 whether the route answers in RESP2; `/multi-exec` answers JSON only, as on Upstash.
 * @throws {GatewayError} 400 for a format other than `json` and `resp2`, or `resp2` with base64.
 */
export function replyFormOf(ctx: RequestContext, resp2: boolean): ReplyForm {
  const headers = ctx.req.headers;
  const encoding = headers['upstash-encoding'];
  const base64 = typeof encoding === 'string' && encoding.toLowerCase() === 'base64';
  const format = headers['upstash-response-format'];
  if (format === undefined) return base64 ? 'bytes' : 'text';
  const name = String(format).toLowerCase();
  if (name !== 'json' && name !== 'resp2') {
    throw gatewayError('CG_ERR_REQUEST_INVALID', 'Upstash-Response-Format must be "json" or "resp2"');
  }
  if (name === 'json') return base64 ? 'bytes' : 'text';
  if (base64) {
    throw gatewayError(
      'CG_ERR_REQUEST_INVALID',
      'Upstash-Encoding: base64 cannot be combined with Upstash-Response-Format: resp2 (RESP2 is binary already)',
    );
  }
  return resp2 ? 'resp2' : 'text';
}

/**
 * Replies held past this (see AnswerBudget) are answered a slice at a time: sized first, refused whole when
 * over CACHEGATE_MAX_ANSWER_BYTES, then written as the client reads (RequestContext.sendPieces). Smaller
 * answers, nearly all of them, are built in one piece.
 */
const SLICED_ANSWER_BYTES = 256 * 1024;

/**
 * Answers a single command: `200 {"result"}`, or `400 {"error"}` when Redis refused it. In the `resp2` form
 * the body is the reply's RESP2 bytes, with the same status codes. A reply the gateway did not forward
 * (too large) is the request's error.
 * @param isConditional the request is a GET, answered with an ETag and 304 for a matching If-None-Match
 *   (`ctx.sendValidated`) unless its command may have written: a write is not a representation to revalidate.
 */
export function sendSingle(
  ctx: RequestContext,
  syncToken: SyncToken,
  batch: BatchResult,
  form: ReplyForm,
  isConditional = false,
): void | Promise<void> {
  // Its caller is gone: nothing is made for nobody.
  if (ctx.isGone) return;
  const result = batch.replies[0] ?? null;
  ctx.headers.push('upstash-sync-token', syncToken.answer(ctx.req.headers['upstash-sync-token'], batch));
  if (result instanceof DroppedReply) throw droppedReplyError(result);
  const held = Math.max(
    ctx.answer.bytes,
    Buffer.isBuffer(result) || typeof result === 'string' ? result.length : 0,
  );
  if (form !== 'resp2' && held > SLICED_ANSWER_BYTES) {
    const base64 = form === 'bytes';
    const max = ctx.answer.budget.maxPerAnswer;
    const body = pieces('{"result":', resultJsonPieces(result, base64), '}');
    // Sized only when it might be over the cap: counting escapes reads every character.
    if (11 + resultJsonBound(result, base64) <= max) return ctx.sendPieces(200, undefined, body);
    const length = 11 + resultJsonLength(result, base64);
    if (length > max) throw answerTooLarge(length, max);
    return ctx.sendPieces(200, length, body);
  }
  const refused = result instanceof ErrorReply;
  if (refused) ctx.headers.push('cachegate-error-code', 'CG_ERR_REDIS_ERROR' satisfies ErrorCode);
  const status = refused ? 400 : 200;
  const body =
    form === 'resp2'
      ? encodeReply(result)
      : refused
        ? `{"error":${JSON.stringify(result.message)}}`
        : `{"result":${resultJson(result, form === 'bytes')}}`;
  const type = form === 'resp2' ? RESP2_TYPE : JSON_TYPE;
  if (isConditional && !batch.wrote) ctx.sendValidated(status, body, type);
  else ctx.send(status, body, type);
}

/**
 * Answers a pipeline or transaction: `200` with one `{"result"}` or `{"error"}` per command, in order. In
 * the `resp2` form the body is every reply's RESP2 bytes back to back, as a Redis client reads a pipeline.
 */
export function sendItems(
  ctx: RequestContext,
  syncToken: SyncToken,
  batch: BatchResult,
  form: ReplyForm,
): void | Promise<void> {
  if (ctx.isGone) return;
  ctx.headers.push('upstash-sync-token', syncToken.answer(ctx.req.headers['upstash-sync-token'], batch));
  if (form === 'resp2') {
    ctx.send(200, Buffer.concat(batch.replies.map(encodeReply)), RESP2_TYPE);
    return;
  }
  const base64 = form === 'bytes';
  if (ctx.answer.bytes > SLICED_ANSWER_BYTES) return sendItemsSliced(ctx, batch.replies, base64);
  let body = '[';
  for (let i = 0; i < batch.replies.length; i++) {
    if (i > 0) body += ',';
    body += pipelineItemJson(batch.replies[i] ?? null, base64);
  }
  ctx.send(200, `${body}]`);
}

/**
 * {@link sendItems} for a large answer: sized item by item, an item that would take the answer over
 * CACHEGATE_MAX_ANSWER_BYTES is its command's error instead (it ran; its reply is not forwarded), and the
 * rest is written a slice at a time.
 */
function sendItemsSliced(ctx: RequestContext, replies: Reply[], base64: boolean): Promise<void> {
  const max = ctx.answer.budget.maxPerAnswer;
  let length = 2 + Math.max(0, replies.length - 1);
  let bound = length;
  for (const reply of replies) bound += 11 + resultJsonBound(reply, base64);
  // Sized only when it might be over the cap: counting escapes reads every character.
  if (bound <= max) return ctx.sendPieces(200, undefined, itemPieces(replies, base64));
  const items = replies.map((reply) => {
    let item = reply;
    let size = pipelineItemLength(item, base64);
    if (length + size > max) {
      item = DroppedReply.over('answer', max);
      size = pipelineItemLength(item, base64);
    }
    length += size;
    return item;
  });
  return ctx.sendPieces(200, length, itemPieces(items, base64));
}

function* itemPieces(items: Reply[], base64: boolean): Generator<string> {
  yield '[';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) yield ',';
    yield* pipelineItemPieces(items[i] ?? null, base64);
  }
  yield ']';
}

function* pieces(head: string, body: Iterable<string>, tail: string): Generator<string> {
  yield head;
  yield* body;
  yield tail;
}

function answerTooLarge(length: number, max: number) {
  const error = gatewayError(
    'CG_ERR_REPLY_TOO_LARGE',
    `ERR the answer would be ${length} bytes, over ${max} (CACHEGATE_MAX_ANSWER_BYTES: JSON escapes and base64 ` +
      'make it larger than the reply); the command ran, but the gateway does not forward its reply: ask for less at once',
  );
  error.mayHaveRun = true;
  return error;
}

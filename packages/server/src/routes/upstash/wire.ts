import { gatewayError } from '../../errors.js';
import type { RequestContext } from '../../http/context.js';
import { pipelineItemJson, resultJson } from '../../redis/encode-result.js';
import type { BatchResult } from '../../redis/executor.js';
import { ErrorReply } from '../../redis/resp.js';
import type { Command } from '../../redis/types.js';
import { checkJsonText, parseJsonBody } from '../json-body.js';
import type { SyncToken } from './sync-token.js';

/** The command of a `POST /` body: `["SET", "key", "value", "EX", 60]`. */
export function commandFromBody(body: unknown): Command {
  const { value, text } = parseJsonBody(body);
  const seen = { number: false };
  const command = toCommand(value, 'The request body', seen);
  if (seen.number) checkJsonText(text, Number.POSITIVE_INFINITY);
  return command;
}

/** The commands of a `/pipeline` or `/multi-exec` body, within CACHEGATE_MAX_PIPELINE. */
export function commandsFromBody(body: unknown, maxCommands: number, route: string): Command[] {
  const { value, text } = parseJsonBody(body);
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

/** True when the caller asked for base64-encoded results (`Upstash-Encoding: base64`). */
export function wantsBase64(ctx: RequestContext): boolean {
  const encoding = ctx.req.headers['upstash-encoding'];
  return typeof encoding === 'string' && encoding.toLowerCase() === 'base64';
}

/** Answers a single command: `200 {"result"}`, or `400 {"error"}` when Redis refused it. */
export function sendSingle(ctx: RequestContext, syncToken: SyncToken, batch: BatchResult): void {
  const result = batch.replies[0] ?? null;
  ctx.headers.push('upstash-sync-token', syncToken.next(batch.wrote));
  if (result instanceof ErrorReply) ctx.send(400, `{"error":${JSON.stringify(result.message)}}`);
  else ctx.send(200, `{"result":${resultJson(result, wantsBase64(ctx))}}`);
}

/** Answers a pipeline or transaction: `200` with one `{"result"}` or `{"error"}` per command, in order. */
export function sendItems(ctx: RequestContext, syncToken: SyncToken, batch: BatchResult): void {
  const base64 = wantsBase64(ctx);
  ctx.headers.push('upstash-sync-token', syncToken.next(batch.wrote));
  let body = '[';
  for (let i = 0; i < batch.replies.length; i++) {
    if (i > 0) body += ',';
    body += pipelineItemJson(batch.replies[i] ?? null, base64);
  }
  ctx.send(200, `${body}]`);
}

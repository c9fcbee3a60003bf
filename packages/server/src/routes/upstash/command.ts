import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { gatewayError } from '../../errors.js';
import type { Command } from '../../redis/types.js';
import { methodNotAllowed } from '../method-not-allowed.js';
import {
  commandSchema,
  commonResponses,
  encodingHeader,
  errorResponseSchema,
  singleResponseSchema,
} from './schemas.js';
import { commandFromBody, sendSingle } from './wire.js';

/**
 * One command per request, in the two forms of the Upstash REST API:
 * - `POST /` with a JSON array body: `["SET", "key", "value", "EX", 60]`;
 * - the path form `GET|POST /set/key/value?EX=60`: URL-decoded segments, then query parameters as
 *   `NAME value` pairs (`_token` excepted), then a non-empty POST body as the last argument, byte for byte.
 * @see https://upstash.com/docs/redis/features/restapi
 */
async function commandRoutes(app: FastifyInstance) {
  const response = { 200: singleResponseSchema, ...commonResponses };
  app.post(
    '/',
    {
      schema: {
        summary: 'Run one command',
        tags: ['commands'],
        headers: encodingHeader,
        body: commandSchema,
        response,
      },
    },
    async (request, reply) => {
      const command = commandFromBody(request.body);
      return sendSingle(request, reply, await app.executor.run(request.principal, 'pipeline', [command]));
    },
  );

  const pathForm = {
    summary: 'Run one command, path form',
    description:
      'GET|POST /{command}/{arg1}/{arg2}...: URL-decoded path segments, then each query parameter as NAME value ' +
      '(?EX=60 appends EX 60; _token is not passed on), then a non-empty POST body as the last argument, byte for byte.',
    tags: ['commands'],
    headers: encodingHeader,
    params: {
      type: 'object',
      properties: { command: { type: 'string', description: 'Command and arguments, separated by /' } },
    },
    response,
  };
  const runPathForm = async (request: FastifyRequest, reply: FastifyReply) => {
    const command = commandFromUrl(request.url, request.body);
    return sendSingle(request, reply, await app.executor.run(request.principal, 'pipeline', [command]));
  };
  app.get('/*', { schema: pathForm }, runPathForm);
  app.post(
    '/*',
    {
      schema: {
        ...pathForm,
        body: { type: 'string', format: 'binary', description: 'The last argument, raw bytes' },
      },
    },
    runPathForm,
  );

  const notAllowed = {
    summary: 'Not allowed',
    tags: ['commands'],
    response: { ...commonResponses, 405: errorResponseSchema },
  };
  app.route({
    method: ['PUT', 'DELETE', 'PATCH'],
    url: '/*',
    schema: notAllowed,
    handler: methodNotAllowed('GET, POST'),
  });
  app.get('/', { schema: notAllowed }, methodNotAllowed('POST'));
}

/** Builds the command of a path-form request from its raw URL (so `%2F` stays inside its segment). */
export function commandFromUrl(url: string, body: unknown): Command {
  const queryStart = url.indexOf('?');
  const path = queryStart === -1 ? url : url.slice(0, queryStart);
  const command: Command = path.slice(1).split('/').map(decodeSegment);
  if (queryStart !== -1) {
    for (const [name, value] of new URLSearchParams(url.slice(queryStart + 1))) {
      if (name === '_token') continue;
      command.push(name);
      if (value !== '') command.push(value);
    }
  }
  if (Buffer.isBuffer(body) && body.length > 0) command.push(body);
  return command;
}

function decodeSegment(segment: string, index: number): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    // Not echoed: a segment may be a value the caller would not want in an error log.
    throw gatewayError('CG_ERR_REQUEST_INVALID', `Malformed percent-encoding in path segment ${index + 1}`);
  }
}

export default commandRoutes;

import type { FastifyReply, FastifyRequest } from 'fastify';
import { gatewayError } from '../errors.js';

/** A handler answering 405, with an `Allow` header listing the methods the path does accept. */
export function methodNotAllowed(allow: string) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('allow', allow);
    throw gatewayError('CG_ERR_METHOD_NOT_ALLOWED', `${request.method} is not allowed here; use ${allow}`);
  };
}

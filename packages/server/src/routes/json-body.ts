import { gatewayError } from '../errors.js';

/**
 * Parses a request body (raw bytes, see app.ts) as JSON.
 * @throws {GatewayError} CG_ERR_BODY_INVALID when it is empty or not JSON.
 */
export function parseJsonBody(body: unknown): unknown {
  if (!Buffer.isBuffer(body) || body.length === 0) {
    throw gatewayError('CG_ERR_BODY_INVALID', 'Request body is empty: send a JSON document');
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw gatewayError('CG_ERR_BODY_INVALID', `Request body is not valid JSON: ${(error as Error).message}`);
  }
}

import { gatewayError } from '../errors.js';
import { JSON_VALUE_BYTES, type JsonShape, scanJson } from './json-scan.js';

/** A request's body, and where what parsing it costs is held (the request's body budget). */
export interface BodySource {
  readonly body: Buffer | undefined;
  /**
   * Holds `bytes` for the body from now until the request settles, in place of its length.
   * @throws {GatewayError} 413 when a body may not cost that much.
   */
  holdBody(bytes: number): void;
}

/**
 * Parses a request body (raw bytes) as JSON, once its shape says what that will cost: the shape is read
 * first without building anything (so `[{},{},...]`, three bytes an object, is refused before it takes
 * fifty an object of heap), checked by the route (`refuse`: a reason, or undefined), and its cost, the
 * text plus {@link JSON_VALUE_BYTES} per value, held in the request's body budget. What the gateway then
 * does with the value is bounded by {@link checkJsonText}.
 * @throws {GatewayError} CG_ERR_BODY_INVALID when it is empty, not JSON or refused; 413 when too costly.
 */
export function parseJsonBody(
  source: BodySource,
  refuse: (shape: JsonShape) => string | undefined = () => undefined,
): { value: unknown; text: string } {
  const body = source.body;
  if (body === undefined || body.length === 0) {
    throw gatewayError('CG_ERR_BODY_INVALID', 'Request body is empty: send a JSON document');
  }
  const text = body.toString('utf8');
  const shape = scanJson(text);
  if (shape === undefined) throw gatewayError('CG_ERR_BODY_INVALID', 'Request body is not valid JSON');
  const refusal = refuse(shape);
  if (refusal !== undefined) throw gatewayError('CG_ERR_REQUEST_INVALID', refusal);
  source.holdBody(body.length + shape.values * JSON_VALUE_BYTES);
  return { value: JSON.parse(text), text };
}

/**
 * Checks, in one pass over valid JSON text, that no array or object nests deeper than `maxDepth`, and that
 * every number survives JSON.parse with its value intact (decision 0009): `12345678901234567890` or
 * `1e309` would silently become another number, so they are refused with a 400 that says to send a string.
 * Notation may change (`1.0` is sent on as `1`); the value never does.
 * @throws {GatewayError} CG_ERR_BODY_INVALID
 */
export function checkJsonText(text: string, maxDepth: number): void {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = endOfString(text, i);
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) {
        throw gatewayError(
          'CG_ERR_BODY_INVALID',
          `The JSON is nested more than ${maxDepth} levels deep (CACHEGATE_MAX_JSON_DEPTH)`,
        );
      }
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    } else if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) {
      let end = i + 1;
      while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
      checkNumber(text.slice(i, end));
      i = end - 1;
    }
  }
}

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_ARRAY = 91;
const CLOSE_ARRAY = 93;
const OPEN_OBJECT = 123;
const CLOSE_OBJECT = 125;
const MINUS = 45;
const DIGIT_0 = 48;
const DIGIT_9 = 57;

/** The index of the quote closing the string that opens at `start` (the text is valid JSON). */
function endOfString(text: string, start: number): number {
  let end = text.indexOf('"', start + 1);
  for (;;) {
    let backslashes = 0;
    while (text.charCodeAt(end - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return end;
    end = text.indexOf('"', end + 1);
  }
}

function isNumberChar(c: number): boolean {
  return (c >= DIGIT_0 && c <= DIGIT_9) || c === 46 || c === 101 || c === 69 || c === 43 || c === MINUS;
}

function checkNumber(lexeme: string): void {
  const value = Number(lexeme);
  const shown = String(value);
  if (shown === lexeme || (Number.isFinite(value) && sameDecimal(lexeme, shown))) return;
  throw gatewayError(
    'CG_ERR_BODY_INVALID',
    `The number ${lexeme.length > 40 ? `${lexeme.slice(0, 40)}...` : lexeme} cannot be carried exactly ` +
      `(it would become ${shown}): send it as a string`,
  );
}

/** True when two decimal numerals (JSON number syntax) denote the same value. */
function sameDecimal(a: string, b: string): boolean {
  const x = normalize(a);
  const y = normalize(b);
  return (
    x.digits === y.digits && (x.digits === '' || (x.negative === y.negative && x.exponent === y.exponent))
  );
}

/** Sign, significant digits and the exponent of the first of them: `-0.0120e2` -> (-, "12", 0). */
function normalize(numeral: string): { negative: boolean; digits: string; exponent: number } {
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(numeral);
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match ?? [];
  const all = whole + fraction;
  const leading = all.length - all.replace(/^0+/, '').length;
  const digits = all.slice(leading).replace(/0+$/, '');
  return { negative: sign === '-', digits, exponent: Number(exponent) + whole.length - leading };
}

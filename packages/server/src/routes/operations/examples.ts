import type { Method } from '../../http/router.js';

/**
 * A request and the answer the gateway gives it, as the docs page shows them. The page's test sends every
 * example, in page order, to a real gateway on an empty Redis and checks the answer, so each one is true.
 */
export interface Example {
  /** What it shows, one line. */
  title: string;
  method: Method;
  /** The path as sent, query string included. */
  path: string;
  /** The raw request body. @default none */
  body?: string;
  /** Whether the request carries the token (`Authorization: Bearer $TOKEN`). @default true */
  withToken?: boolean;
  status: number;
  /** Response headers worth showing, by lower-case name. @default none */
  headers?: Record<string, string>;
  /**
   * The JSON body of the answer. A string ending in `…` stands for any string starting with what precedes
   * it (`"…"` alone: any string), for what differs between runs (request ids) or Redis versions.
   */
  response: unknown;
}

/** Examples of the rules every route follows, shown once at the top of the page. */
export const RULE_EXAMPLES: Example[] = [
  {
    title: 'No token: 401',
    method: 'GET',
    path: '/get/greeting',
    withToken: false,
    status: 401,
    response: { error: 'Missing token: send "Authorization: Bearer <token>"' },
  },
  {
    title:
      'A path that is no route is a command in the path form: an unknown command is a 400 with Redis’s own error',
    method: 'GET',
    path: '/nosuchcommand',
    status: 400,
    response: { error: "ERR unknown command 'nosuchcommand'…" },
  },
  {
    title: 'A method a route does not serve: 405, with the methods it does in Allow',
    method: 'DELETE',
    path: '/pipeline',
    status: 405,
    headers: { allow: 'POST' },
    response: { error: 'This method is not allowed here; use POST' },
  },
  {
    title: 'Errors of the cache API carry a stable code and the request id (also in X-Request-Id)',
    method: 'GET',
    path: '/v1/cache/no-such-key',
    status: 404,
    response: {
      error: { code: 'CG_ERR_KEY_NOT_FOUND', message: 'No entry for key "no-such-key"', requestId: '…' },
    },
  },
];

/** Examples of one operation each, by `METHOD /openapi/path`, in the order they run on the page. */
export const OPERATION_EXAMPLES: Record<string, Example[]> = {
  'POST /': [
    {
      title: 'SET, with an expiry',
      method: 'POST',
      path: '/',
      body: '["SET", "greeting", "hello", "EX", 3600]',
      status: 200,
      response: { result: 'OK' },
    },
    {
      title: 'A Redis error is a 400 with its text',
      method: 'POST',
      path: '/',
      body: '["INCR", "greeting"]',
      status: 400,
      response: { error: 'ERR value is not an integer or out of range' },
    },
  ],
  'GET /{command}': [
    {
      title: 'GET in the path form',
      method: 'GET',
      path: '/get/greeting',
      status: 200,
      response: { result: 'hello' },
    },
    {
      title: 'Each query parameter appends NAME value: SET session abc EX 60',
      method: 'GET',
      path: '/set/session/abc?EX=60',
      status: 200,
      response: { result: 'OK' },
    },
  ],
  'POST /{command}': [
    {
      title: 'A POST body is the last argument, byte for byte',
      method: 'POST',
      path: '/set/note',
      body: 'a value with spaces',
      status: 200,
      response: { result: 'OK' },
    },
  ],
  'POST /pipeline': [
    {
      title: 'Each command answers for itself',
      method: 'POST',
      path: '/pipeline',
      body: '[["INCR", "visits"], ["GET", "greeting"], ["INCR", "greeting"]]',
      status: 200,
      response: [
        { result: 1 },
        { result: 'hello' },
        { error: 'ERR value is not an integer or out of range' },
      ],
    },
  ],
  'POST /multi-exec': [
    {
      title: 'All or nothing',
      method: 'POST',
      path: '/multi-exec',
      body: '[["INCR", "visits"], ["EXPIRE", "visits", 60]]',
      status: 200,
      response: [{ result: 2 }, { result: 1 }],
    },
  ],
  'PUT /v1/cache/{key}': [
    {
      title: 'Any JSON value, without an expiry',
      method: 'PUT',
      path: '/v1/cache/user:1',
      body: '{"value": {"name": "Ada", "langs": ["en", "fr"]}}',
      status: 200,
      response: { key: 'user:1', ttl: null },
    },
  ],
  'GET /v1/cache/{key}': [
    {
      title: 'The value as it was stored',
      method: 'GET',
      path: '/v1/cache/user:1',
      status: 200,
      response: { key: 'user:1', value: { name: 'Ada', langs: ['en', 'fr'] }, ttl: null },
    },
  ],
  'POST /v1/cache/mset': [
    {
      title: 'Atomically, each entry with its own expiry',
      method: 'POST',
      path: '/v1/cache/mset',
      body: '{"entries": [{"key": "a", "value": 1}, {"key": "b", "value": "two", "ttl": 60}]}',
      status: 200,
      response: { stored: 2 },
    },
  ],
  'POST /v1/cache/mget': [
    {
      title: 'A missing key is "found": false',
      method: 'POST',
      path: '/v1/cache/mget',
      body: '{"keys": ["a", "b", "c"]}',
      status: 200,
      response: {
        entries: [
          { key: 'a', found: true, value: 1 },
          { key: 'b', found: true, value: 'two' },
          { key: 'c', found: false },
        ],
      },
    },
  ],
  'DELETE /v1/cache/{key}': [
    {
      title: 'Answers how many keys it deleted (0 for a missing key, not an error)',
      method: 'DELETE',
      path: '/v1/cache/user:1',
      status: 200,
      response: { deleted: 1 },
    },
  ],
  'GET /livez': [
    {
      title: 'No token needed',
      method: 'GET',
      path: '/livez',
      withToken: false,
      status: 200,
      response: { status: 'ok' },
    },
  ],
  'GET /readyz': [
    {
      title: 'Redis answered PING',
      method: 'GET',
      path: '/readyz',
      withToken: false,
      status: 200,
      response: { status: 'ready' },
    },
  ],
};

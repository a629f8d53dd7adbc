import type { ServerResponse } from 'node:http';
import { toClientError } from '../graphql/errors.ts';
import { describeError, log } from '../runtime/log.ts';

/** What each of our stable codes answers over REST, when the refusal came from GraphQL. */
const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  BAD_USER_INPUT: 422,
  QUERY_TOO_COMPLEX: 422,
  RESPONSE_TOO_LARGE: 422,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  VERSION_CONFLICT: 412,
  IDEMPOTENCY_KEY_REUSED: 409,
  EXECUTION_FINISHED: 409,
  QUOTA_EXCEEDED: 409,
  RATE_LIMITED: 429,
  TOO_MANY_SUBSCRIPTIONS: 429,
  OVERLOADED: 503,
  UNAVAILABLE: 503,
  INTERNAL_SERVER_ERROR: 500,
};

/** What every status means, as a problem's title. */
export const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** An RFC 9457 problem: `code` is the stable code GraphQL answers with too. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly [extension: string]: unknown;
}

/** An error's details as members of its problem; a detail named like a member of RFC 9457 yields to it. */
export function problem(status: number, code: string, detail: string, extensions: Record<string, unknown> = {}): Problem {
  return { ...extensions, type: `urn:flowledger:problem:${code}`, title: TITLES[status] ?? 'Error', status, code, detail };
}

/** A GraphQL error (its message and extensions) as a problem; its `http` extension carries headers, not body. */
export function problemOfError(error: { readonly message: string; readonly extensions?: Record<string, unknown> }): {
  readonly problem: Problem;
  readonly headers: Record<string, string>;
} {
  const {
    code = 'INTERNAL_SERVER_ERROR',
    http,
    ...extensions
  } = (error.extensions ?? {}) as { code?: string; http?: { headers?: Record<string, string> } };
  return { problem: problem(STATUS_OF_CODE[code] ?? 500, code, error.message, extensions), headers: http?.headers ?? {} };
}

export function sendProblem(response: ServerResponse, refused: Problem, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(refused);
  response.writeHead(refused.status, { ...headers, 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

/** Something thrown while serving a route, as GraphQL would word it (a bug is masked, and logged). */
export function problemOfThrown(error: unknown): { readonly problem: Problem; readonly headers: Record<string, string> } {
  return problemOfError(toClientError(error, (cause) => log('error', 'unexpected error in a REST request', describeError(cause))));
}

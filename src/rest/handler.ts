import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { admit, type Principal } from '../graphql/context.ts';
import type { AppServices } from '../runtime/services.ts';
import type { GraphQLAnswer, GraphQLEndpoint } from './graphql-call.ts';
import { problem, problemOfError, problemOfThrown, sendProblem, type Problem } from './problem.ts';
import type { Route, RouteInput } from './route.ts';
import { readBody } from '../runtime/read-body.ts';

/** The headers of a REST request that its GraphQL request carries on. */
const CARRIED = ['x-request-id', 'x-correlation-id', 'flowledger-read-after', 'origin'];
/** Headers of the GraphQL answer that the REST answer keeps. */
const KEPT = [
  'x-request-id',
  'flowledger-position',
  'flowledger-cache',
  'access-control-allow-origin',
  'access-control-expose-headers',
  'vary',
];
const JSON_BODY = /^application\/json(;|$)/;
const VERSION_TAG = /^(?:W\/)?"?(\d{1,10})"?$/;
const MAX_KEY_CHARS = 255;
const NO_QUERY = z.strictObject({});

/** A request refused before it reached GraphQL, with the problem it is answered with. */
export class Refused extends Error {
  readonly refusal: Problem;
  readonly headers: Record<string, string>;

  constructor(refusal: Problem, headers: Record<string, string> = {}) {
    super(refusal.detail);
    this.refusal = refusal;
    this.headers = headers;
  }
}

const malformed = (detail: string, extensions: Record<string, unknown> = {}) =>
  new Refused(problem(400, 'BAD_USER_INPUT', detail, extensions));

/** Zod's complaints as one problem naming each field. */
function checked<T>(shape: z.ZodType<T>, value: unknown, where: string): T {
  const result = shape.safeParse(value);
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => ({ field: issue.path.join('.') || null, message: issue.message }));
  const first = errors[0]!;
  throw malformed(`${where}${first.field ? ` ${first.field}` : ''}: ${first.message}`, { errors });
}

/** A route's path as a pattern, its parameters as named groups. */
function matcher(path: string): RegExp {
  const pattern = path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_, name: string) => `(?<${name}>[^/]{1,200})`);
  return new RegExp(`^${pattern}$`);
}

/** A REST answer made from a GraphQL one: kept per answer, so a kept GraphQL answer is translated once. */
interface Translated {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly etag?: string | undefined;
}

/**
 * The REST routes: each request is checked against its route's declarations, its caller
 * admitted once (authenticated, and counted against the same rate limits as GraphQL), and
 * then answered by its GraphQL operation through the same endpoint as any GraphQL request.
 * Refusals are RFC 9457 problems carrying the stable codes. Returns false for a path that
 * is no route's.
 */
export function restRoutes(services: AppServices, endpoint: GraphQLEndpoint, routes: readonly Route[]) {
  const compiled = routes.map((route) => ({ route, pattern: matcher(route.path) }));
  // By the answer's bytes: a kept GraphQL answer is translated once.
  const translations = new WeakMap<Buffer, Translated>();

  const translate = (route: Route, answered: GraphQLAnswer): Translated => {
    const { data, errors } = JSON.parse(answered.body.toString()) as {
      data?: Record<string, unknown> | null;
      errors?: { message: string; extensions?: Record<string, unknown> }[];
    };
    if (errors?.length) {
      const { problem: refusal, headers: extra } = problemOfError(errors[0]!);
      // A stale version is a failed precondition only where the version came from If-Match.
      const fixed = refusal.code === 'VERSION_CONFLICT' && !route.ifMatch ? { ...refusal, status: 409, title: 'Conflict' } : refusal;
      return {
        status: fixed.status,
        headers: { ...extra, 'content-type': 'application/problem+json' },
        body: JSON.stringify(fixed),
      };
    }
    const field = Object.values(data ?? {})[0] as Record<string, unknown> | null | undefined;
    if (field == null) {
      const refusal = problem(
        404,
        'NOT_FOUND',
        `nothing at ${route.path} with these parameters: an unknown id, another workspace's, or a deleted one`,
      );
      return { status: 404, headers: { 'content-type': 'application/problem+json' }, body: JSON.stringify(refusal) };
    }
    const body = route.answer === 'page' ? pageOf(field) : field;
    const etag = typeof field.version === 'number' && route.answer === 'one' ? `"${field.version}"` : undefined;
    const headers: Record<string, string> = {};
    if (etag) headers.etag = etag;
    if (route.location) headers.location = route.location(field as { id: string });
    return { status: route.status ?? 200, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body), etag };
  };

  const serve = async (request: IncomingMessage, response: ServerResponse, route: Route, path: Record<string, string>, url: URL) => {
    const admitted = admit(services, request.headers.authorization);
    let principal: Principal;
    try {
      principal = await admitted;
    } catch (error) {
      const { problem: refusal, headers } = problemOfThrown(error);
      throw new Refused(refusal, headers);
    }
    const input = await inputOf(request, route, path, url);
    const headers: Record<string, string> = {};
    for (const name of CARRIED) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const answered = await endpoint.answer({ query: route.document, variables: route.variables(input), headers, admitted, principal });
    let translated = translations.get(answered.body);
    if (!translated) translations.set(answered.body, (translated = translate(route, answered)));
    const own: Record<string, string> = {};
    for (const name of KEPT) if (answered.headers[name]) own[name] = answered.headers[name]!;
    if (translated.etag && request.method === 'GET' && request.headers['if-none-match'] === translated.etag) {
      response.writeHead(304, { ...own, ...translated.headers });
      return response.end();
    }
    response.writeHead(translated.status, { ...own, ...translated.headers, 'content-length': Buffer.byteLength(translated.body) });
    response.end(translated.body);
  };

  return (request: IncomingMessage, response: ServerResponse): boolean => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const matching = compiled.map(({ route, pattern }) => ({ route, match: pattern.exec(url.pathname) })).filter(({ match }) => match);
    if (matching.length === 0) return false;
    const chosen = matching.find(({ route }) => route.method === request.method);
    if (!chosen) {
      const allowed = matching.map(({ route }) => route.method).join(', ');
      sendProblem(response, problem(405, 'METHOD_NOT_ALLOWED', `${url.pathname} answers ${allowed}`), { allow: allowed });
      return true;
    }
    const path = Object.fromEntries(Object.entries(chosen.match!.groups ?? {}).map(([name, value]) => [name, decodeURIComponent(value)]));
    serve(request, response, chosen.route, path, url).catch((error: unknown) => {
      if (response.headersSent || response.destroyed || request.socket.destroyed) return;
      if (error instanceof Refused) return sendProblem(response, error.refusal, error.headers);
      const { problem: refusal, headers } = problemOfThrown(error);
      sendProblem(response, refusal, headers);
    });
    return true;
  };
}

/** A query string checked against its schema: each parameter once, of its type, and no other. */
export function checkedQuery(shape: z.ZodObject, url: URL): Record<string, unknown> {
  const given: Record<string, string> = {};
  for (const [name, value] of url.searchParams) {
    if (name in given) throw malformed(`query parameter ${name} is given twice`);
    given[name] = value;
  }
  return checked(shape, given, 'query parameter') as Record<string, unknown>;
}

/** The route's parameters, body and preconditions, as checked values; a refusal names what is wrong. */
async function inputOf(request: IncomingMessage, route: Route, path: Record<string, string>, url: URL): Promise<RouteInput> {
  const query = checkedQuery(route.query ?? NO_QUERY, url);
  let body: Record<string, unknown> = {};
  if (route.body) {
    if (!JSON_BODY.test(request.headers['content-type'] ?? '')) {
      throw new Refused(problem(415, 'UNSUPPORTED_MEDIA_TYPE', 'a request body must be JSON: send "Content-Type: application/json"'));
    }
    const raw = await readBody(request);
    let parsed: unknown;
    try {
      parsed = raw.trim() === '' ? {} : JSON.parse(raw);
    } catch {
      throw malformed('the request body is not JSON');
    }
    body = checked(route.body, parsed, 'body field') as Record<string, unknown>;
  }
  let version = 0;
  if (route.ifMatch) {
    const tag = request.headers['if-match'];
    if (tag === undefined) {
      throw new Refused(
        problem(428, 'PRECONDITION_REQUIRED', 'If-Match must carry the version this changes (the ETag of its last answer)'),
      );
    }
    const match = VERSION_TAG.exec(tag.trim());
    if (!match) throw malformed('If-Match must be a version, as the ETag gave it: "3"');
    version = Number(match[1]);
  }
  const key = request.headers['idempotency-key'];
  if (key !== undefined && (!route.idempotent || typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_CHARS)) {
    throw malformed(route.idempotent ? `Idempotency-Key must be 1 to ${MAX_KEY_CHARS} characters` : 'this route takes no Idempotency-Key');
  }
  return { path, query, body, version, idempotencyKey: key };
}

/** A connection's page as REST answers it: the nodes, and the cursor of the next page. */
function pageOf(connection: Record<string, unknown>) {
  const { edges, pageInfo, totalCount } = connection as {
    edges: { node: unknown }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    totalCount?: number;
  };
  return {
    items: edges.map((edge) => edge.node),
    nextCursor: pageInfo.hasNextPage ? pageInfo.endCursor : null,
    ...(totalCount === undefined ? {} : { totalCount }),
  };
}

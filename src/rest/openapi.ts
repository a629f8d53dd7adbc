import { z } from 'zod';
import type { GraphQLSchema } from 'graphql';
import { TITLES } from './problem.ts';
import type { Route } from './route.ts';
import { rootFieldSchema, type JsonSchema } from './selection-schema.ts';

/** Refusals every route may answer: a malformed request, no credential, content refused (a cursor not ours, an answer too large), too many, the database away. */
const COMMON_REFUSALS = [400, 401, 422, 429, 500, 503];

const PROBLEM: JsonSchema = {
  type: 'object',
  description: 'An RFC 9457 problem. `code` is the stable code that GraphQL answers with too; other members carry its details.',
  properties: {
    type: { type: 'string', examples: ['urn:flowledger:problem:VERSION_CONFLICT'] },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string', examples: ['VERSION_CONFLICT'] },
    detail: { type: 'string' },
  },
  required: ['type', 'title', 'status', 'code', 'detail'],
};

/** A refusal of each status, as the service answers it. */
const REFUSAL_EXAMPLES: Record<number, { code: string; detail: string }> = {
  400: { code: 'BAD_USER_INPUT', detail: 'query parameter limit: Too big: expected number to be <=100' },
  401: { code: 'UNAUTHENTICATED', detail: 'an API key or token is required: send "Authorization: Bearer <credential>"' },
  403: { code: 'FORBIDDEN', detail: 'this operation needs the EDITOR role' },
  404: { code: 'NOT_FOUND', detail: 'workflow 0193a4f2-7c1e-7d2a-9b41-5f0e8c6d2a10 not found' },
  409: { code: 'EXECUTION_FINISHED', detail: 'the execution has ended already' },
  412: { code: 'VERSION_CONFLICT', detail: 'expected version 1, but the stream is at version 2' },
  413: { code: 'PAYLOAD_TOO_LARGE', detail: 'the request body is larger than 1048576 bytes' },
  415: { code: 'UNSUPPORTED_MEDIA_TYPE', detail: 'a request body must be JSON: send "Content-Type: application/json"' },
  422: { code: 'BAD_USER_INPUT', detail: 'definition: node "Done" is not reachable' },
  428: { code: 'PRECONDITION_REQUIRED', detail: 'If-Match must carry the version this changes (the ETag of its last answer)' },
  429: { code: 'RATE_LIMITED', detail: 'too many requests for this API key: retry in 1 s' },
  500: { code: 'INTERNAL_SERVER_ERROR', detail: 'Unexpected error.' },
  503: { code: 'UNAVAILABLE', detail: 'the database cannot be reached right now: retry shortly' },
};

/** The answer of a route: its GraphQL field's, or a page of a connection's nodes. */
export function answerSchema(schema: GraphQLSchema, route: Route): JsonSchema {
  const { schema: field } = rootFieldSchema(schema, route.document);
  if (route.answer === 'one') return withoutNull(field);
  const connection = field as { properties: Record<string, { items?: { properties: { node: JsonSchema } } }> };
  const properties: Record<string, JsonSchema> = {
    items: { type: 'array', items: connection.properties.edges!.items!.properties.node },
    nextCursor: { anyOf: [{ type: 'string' }, { type: 'null' }], description: 'Pass it as `after` for the next page; null on the last.' },
  };
  if (connection.properties.totalCount)
    properties.totalCount = { type: 'integer', description: 'How many items there are over every page.' };
  return { type: 'object', properties, required: Object.keys(properties), additionalProperties: false };
}

/** A nullable field's answer is never null over REST: null is a 404. */
const withoutNull = (schema: JsonSchema): JsonSchema => {
  const options = schema.anyOf as JsonSchema[] | undefined;
  return options ? options.find((option) => option.type !== 'null')! : schema;
};

const inputSchema = (shape: z.ZodType): JsonSchema => {
  const { $schema: _, ...rest } = z.toJSONSchema(shape, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

/** A body made of its fields' first examples. */
const exampleOf = (schema: JsonSchema) =>
  Object.fromEntries(
    Object.entries((schema.properties ?? {}) as Record<string, { examples?: unknown[] }>).flatMap(([name, property]) =>
      property.examples ? [[name, property.examples[0]]] : [],
    ),
  );

const header = (name: string, description: string, required: boolean, example: string) => ({
  name,
  in: 'header',
  required,
  description,
  schema: { type: 'string' },
  example,
});

/** A query string's parameters, described by its zod schema. */
export function queryParameters(shape: z.ZodObject): unknown[] {
  const query = inputSchema(shape) as {
    properties: Record<string, JsonSchema & { description?: string; examples?: unknown[] }>;
    required?: string[];
  };
  return Object.entries(query.properties).map(([name, { description, examples, ...schema }]) => ({
    name,
    in: 'query',
    required: query.required?.includes(name) ?? false,
    description,
    schema,
    example: examples?.[0],
  }));
}

function operationOf(schema: GraphQLSchema, route: Route) {
  const parameters: unknown[] = Object.entries(route.pathParameters ?? {}).map(([name, description]) => ({
    name,
    in: 'path',
    required: true,
    description,
    schema: { type: 'string', maxLength: 64 },
    example: '0193a4f2-7c1e-7d2a-9b41-5f0e8c6d2a10',
  }));
  if (route.query) parameters.push(...queryParameters(route.query));
  if (route.ifMatch) parameters.push(header('If-Match', 'The version this changes, as the ETag gave it: `"3"`.', true, '"1"'));
  if (route.idempotent) {
    parameters.push(
      header('Idempotency-Key', "A retry with the same key returns the first call's answer and writes nothing.", false, 'create-triage-1'),
    );
  }
  if (route.method === 'GET' && route.answer === 'one') {
    parameters.push(header('If-None-Match', 'The ETag of an answer held: 304 while it is still the answer.', false, '"1"'));
  }
  const status = route.status ?? 200;
  const headers: Record<string, unknown> = {};
  if (route.answer === 'one') headers.ETag = { description: 'The version, quoted.', schema: { type: 'string' }, example: '"1"' };
  if (route.location) headers.Location = { description: 'Where the resource lives.', schema: { type: 'string' } };
  const responses: Record<string, unknown> = {
    [status]: {
      description: status === 201 ? 'Created.' : status === 202 ? 'Accepted: it runs now.' : 'The answer.',
      headers,
      content: { 'application/json': { schema: answerSchema(schema, route), example: route.example } },
    },
  };
  if (route.method === 'GET' && route.answer === 'one') responses[304] = { description: 'Not Modified: the ETag sent is the version now.' };
  return {
    operationId: route.operationId,
    summary: route.summary,
    description: `${route.description}\n\nRuns the GraphQL field \`${route.runs}\`, with its roles and limits.`,
    tags: [route.tag],
    parameters,
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: inputSchema(route.body), example: exampleOf(inputSchema(route.body)) } },
          },
        }
      : {}),
    responses: { ...responses, ...refusalResponses(route.refusals) },
  };
}

/** The problems an operation may answer: those of every route, and its own. */
export function refusalResponses(own: readonly number[]): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const refusal of [...new Set([...COMMON_REFUSALS, ...own])].sort()) {
    const example = REFUSAL_EXAMPLES[refusal]!;
    responses[refusal] = {
      description: TITLES[refusal],
      content: {
        'application/problem+json': {
          schema: { $ref: '#/components/schemas/Problem' },
          example: { type: `urn:flowledger:problem:${example.code}`, title: TITLES[refusal], status: refusal, ...example },
        },
      },
    };
  }
  return responses;
}

/** The OpenAPI 3.1 document of the REST routes, made from their declarations and the GraphQL schema. */
export function openApiDocument(schema: GraphQLSchema, routes: readonly Route[], version: string, extra: Record<string, unknown>) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) (paths[route.path] ??= {})[route.method.toLowerCase()] = operationOf(schema, route);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Flowledger REST API',
      version,
      description:
        "The old system's REST paths, answered by the same code as the GraphQL API at /graphql: the same keys and tokens, roles, workspace scope, limits and stable error codes. Refusals are application/problem+json.",
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    tags: [
      { name: 'Workflows', description: 'Workflows and their versions.' },
      { name: 'Executions', description: 'Runs of workflows, and their steps.' },
      { name: 'Events', description: "The event log: one aggregate's events, time travel, the audit log and the live stream." },
    ],
    paths: { ...paths, ...extra },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key (flk_...) or, when configured, a JWT.' } },
      schemas: { Problem: PROBLEM },
    },
  };
}

import { z } from 'zod';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a request gave a route, checked against its declarations. */
export interface RouteInput {
  readonly path: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, unknown>>;
  readonly body: Readonly<Record<string, unknown>>;
  /** The version If-Match named (routes that require it). */
  readonly version: number;
  readonly idempotencyKey: string | undefined;
}

/**
 * A REST route: a GraphQL operation under the old system's path and parameters. It runs
 * through the same endpoint as any GraphQL request, so the same code authenticates, scopes to
 * the workspace, checks roles and limits, and answers; the route only translates.
 */
export interface Route {
  readonly method: Method;
  /** The path, with `{name}` for each path parameter (all strings), as OpenAPI writes it. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly tag: 'Workflows' | 'Executions' | 'Events';
  /** The GraphQL field it runs: its row of the role table is this route's. */
  readonly runs: string;
  readonly document: string;
  readonly pathParameters?: Readonly<Record<string, string>>;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodObject;
  /** If-Match must name the current version (ETag): 428 without it, 412 when it is stale. */
  readonly ifMatch?: boolean;
  /** An Idempotency-Key header makes a retry return the first answer and write nothing. */
  readonly idempotent?: boolean;
  readonly variables: (input: RouteInput) => Record<string, unknown>;
  /** `one`: the field's answer as it is (404 when null); `page`: a connection as items and a cursor. */
  readonly answer: 'one' | 'page';
  readonly status?: 200 | 201 | 202;
  /** Where the resource made lives, for 201 and 202 answers. */
  readonly location?: (answer: { readonly id: string }) => string;
  /** Statuses of its refusals besides those every route has (400, 401, 422, 429, 500, 503). */
  readonly refusals: readonly number[];
  readonly example: unknown;
}

/** A whole number in a query string. */
export const integer = (min: number, max: number, description: string, example: number) =>
  z.coerce
    .number()
    .int()
    .min(min)
    .max(max)
    .meta({ description, examples: [example] });

/** `Workflow` and `Execution` as the old system spelled them, or WORKFLOW and EXECUTION as GraphQL does: checked as GraphQL's. */
export const aggregateType = z
  .enum(['Workflow', 'Execution', 'WORKFLOW', 'EXECUTION'])
  .meta({ description: "The aggregate type, in the old spelling or in GraphQL's.", examples: ['Workflow'] })
  .transform((type) => type.toUpperCase());

export const cursor = (description: string) =>
  z
    .string()
    .max(512)
    .meta({ description, examples: ['eyJwIjoiMTIzIn0'] });

export const pageSize = (fallback: number) =>
  integer(1, 100, `How many items a page holds (1 to 100, default ${fallback}).`, fallback).default(fallback);

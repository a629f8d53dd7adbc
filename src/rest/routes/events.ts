import { z } from 'zod';
import { aggregateType, cursor, integer, pageSize, type Route } from '../route.ts';

/** An event as REST answers it: what GraphQL's Event holds, but the actor, named by metadata. */
export const EVENT_FIELDS =
  'id type aggregateType aggregateId version data createdAt globalPosition logCursor hash metadata { actorId requestId correlationId causationId }';
export const EVENT_EXAMPLE = {
  id: '0193a4f2-7c1f-7000-8000-00000000e001',
  type: 'WorkflowCreated',
  aggregateType: 'WORKFLOW',
  aggregateId: '0193a4f2-7c1e-7d2a-9b41-5f0e8c6d2a10',
  version: 1,
  data: { name: 'triage', description: '', definition: { startAt: 'Done', nodes: { Done: { type: 'succeed' } } } },
  createdAt: '2026-12-01T09:30:00.000Z',
  globalPosition: '1207',
  logCursor: 'MTIwNzoxMjA3',
  hash: '9f2c1e0d4b7a66b1d1a3f0c8e2b4d6f8a0c2e4f6b8d0a2c4e6f8b0d2f4a6c8e0',
  metadata: { actorId: '0193a4f2-0000-7000-8000-000000000001', requestId: 'req-1', correlationId: 'req-1', causationId: null },
};
/** GET /api/events/stream's parameters (rest/event-stream.ts). */
export const STREAM_QUERY = z.strictObject({
  after: cursor('A log cursor: the stream starts after it.').optional(),
  aggregate_type: aggregateType.optional(),
  types: z
    .string()
    .max(2000)
    .meta({ description: 'Only events of these types, comma-separated (at most 20).', examples: ['WorkflowCreated,WorkflowUpdated'] })
    .transform((types) => types.split(',').filter((type) => type !== ''))
    .refine((types) => types.length <= 20, { message: 'at most 20 types' })
    .optional(),
});

/** GET /api/events/stream's subscription (rest/event-stream.ts). */
export const STREAM_DOCUMENT = `subscription($after: String, $aggregateType: AggregateType, $types: [String!]) {
  events(after: $after, aggregateType: $aggregateType, types: $types) { cursor caughtUp event { ${EVENT_FIELDS} } } }`;
const AGGREGATE_ID = { aggregate_id: "The aggregate's id: a workflow's or an execution's." };
const instant = (description: string) => z.iso.datetime({ offset: true }).meta({ description, examples: ['2026-12-01T09:30:00Z'] });

export const eventRoutes: readonly Route[] = [
  {
    method: 'GET',
    path: '/api/events/aggregate/{aggregate_id}',
    operationId: 'aggregateEvents',
    summary: "One aggregate's events",
    description: 'Its events in version order, from `from_version` on (0 and 1 both mean from the first), a page at a time.',
    tag: 'Events',
    runs: 'Query.events',
    document: `query($type: AggregateType!, $id: ID!, $from: Int, $first: Int!, $after: String) {
      events(aggregateType: $type, aggregateId: $id, fromVersion: $from, first: $first, after: $after) {
        totalCount edges { node { ${EVENT_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
    pathParameters: AGGREGATE_ID,
    query: z.strictObject({
      aggregate_type: aggregateType,
      from_version: integer(0, 2 ** 31 - 1, 'The first version to answer (inclusive).', 0).default(0),
      limit: pageSize(100),
      after: cursor('The `nextCursor` of the page before.').optional(),
    }),
    variables: ({ path, query }) => ({
      type: query.aggregate_type,
      id: path.aggregate_id,
      from: Math.max(1, Number(query.from_version)),
      first: query.limit,
      after: query.after,
    }),
    answer: 'page',
    refusals: [],
    example: { items: [EVENT_EXAMPLE], nextCursor: null, totalCount: 1 },
  },
  {
    method: 'GET',
    path: '/api/events/replay/{aggregate_id}',
    operationId: 'replay',
    summary: 'Time travel: an aggregate as it was',
    description:
      'Its events folded up to `to_version`, or up to the instant `at` (not both); with neither, its state now. `version` is the version reached.',
    tag: 'Events',
    runs: 'Query.replay',
    document: `query($type: AggregateType!, $id: ID!, $to: Int, $at: DateTime) {
      replay(aggregateType: $type, aggregateId: $id, toVersion: $to, at: $at) { aggregateType aggregateId version state } }`,
    pathParameters: AGGREGATE_ID,
    query: z.strictObject({
      aggregate_type: aggregateType,
      to_version: integer(0, 2 ** 31 - 1, 'The version to stop at (inclusive).', 10).optional(),
      at: instant('The instant to stop at: the state as it was then.').optional(),
    }),
    variables: ({ path, query }) => ({
      type: query.aggregate_type,
      id: path.aggregate_id,
      to: query.to_version,
      at: query.at,
    }),
    answer: 'one',
    refusals: [404],
    example: {
      aggregateType: 'WORKFLOW',
      aggregateId: EVENT_EXAMPLE.aggregateId,
      version: 1,
      state: { id: EVENT_EXAMPLE.aggregateId, name: 'triage', status: 'ACTIVE', version: 1 },
    },
  },
  {
    method: 'GET',
    path: '/api/events/audit',
    operationId: 'auditLog',
    summary: 'The audit log',
    description:
      'Who did what, newest first, filtered by user, event type, aggregate type and time (`from_date` inclusive, `to_date` exclusive). Admins only.',
    tag: 'Events',
    runs: 'Query.auditLog',
    document: `query($userId: ID, $eventType: String, $aggregateType: AggregateType, $from: DateTime, $to: DateTime, $first: Int!, $after: String) {
      auditLog(userId: $userId, eventType: $eventType, aggregateType: $aggregateType, from: $from, to: $to, first: $first, after: $after) {
        edges { node { ${EVENT_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
    query: z.strictObject({
      user_id: z
        .string()
        .max(64)
        .meta({ description: "Only this user's events.", examples: [EVENT_EXAMPLE.metadata.actorId] })
        .optional(),
      event_type: z
        .string()
        .max(200)
        .meta({ description: 'Only events of this type.', examples: ['WorkflowCreated'] })
        .optional(),
      aggregate_type: aggregateType.optional(),
      from_date: instant('From this instant (inclusive).').optional(),
      to_date: instant('Up to this instant (exclusive).').optional(),
      limit: pageSize(100),
      after: cursor('The `nextCursor` of the page before.').optional(),
    }),
    variables: ({ query }) => ({
      userId: query.user_id,
      eventType: query.event_type,
      aggregateType: query.aggregate_type,
      from: query.from_date,
      to: query.to_date,
      first: query.limit,
      after: query.after,
    }),
    answer: 'page',
    refusals: [403],
    example: { items: [EVENT_EXAMPLE], nextCursor: null },
  },
];

import { AGGREGATES } from '../../app/aggregates.ts';
import type { EventMetadata, StoredEvent } from '../../store/event-store.ts';
import { LOG_START } from '../../store/event-store.ts';
import { builder } from '../builder.ts';
import { cursors, forwardPage, pageSize } from '../connections.ts';
import { UserRef } from './user.ts';

export const AggregateTypeEnum = builder.enumType('AggregateType', {
  values: Object.fromEntries([...AGGREGATES.keys()].map((type) => [type.toUpperCase(), { value: type }])),
});

const EventMetadataRef = builder.objectRef<EventMetadata>('EventMetadata').implement({
  fields: (t) => ({
    actorId: t.exposeID('actorId', { nullable: true, description: 'The user whose key made the request.' }),
    requestId: t.exposeString('requestId'),
    correlationId: t.exposeString('correlationId'),
    causationId: t.exposeString('causationId', { nullable: true }),
  }),
});

export const EventRef = builder.objectRef<StoredEvent>('Event').implement({
  description: 'One immutable entry of the log.',
  fields: (t) => ({
    id: t.exposeID('eventId'),
    globalPosition: t.string({
      description: 'Position in the global log (a 64-bit integer, so a string).',
      resolve: (event) => event.globalPosition.toString(),
    }),
    logCursor: t.string({
      description: 'Resumes Query.eventLog right after this event.',
      resolve: (event) => cursors.log.encode(event),
    }),
    aggregateType: t.field({ type: AggregateTypeEnum, resolve: (event) => event.aggregateType }),
    aggregateId: t.exposeID('aggregateId'),
    version: t.exposeInt('version'),
    type: t.exposeString('type'),
    // Charged to the answer where the event was read (History's reads, loaders, live items).
    data: t.field({ type: 'JSON', resolve: (event) => event.data }),
    metadata: t.field({ type: EventMetadataRef, resolve: (event) => event.metadata }),
    actor: t.field({
      type: UserRef,
      nullable: true,
      resolve: (event, _args, context) => (event.metadata.actorId ? context.loaders.user.load(event.metadata.actorId) : null),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    hash: t.exposeString('hash', {
      description: 'SHA-256 (hex) over this event and the previous hash in its stream: Query.verifyAuditTrail recomputes it.',
    }),
  }),
});

export const EventConnection = builder.connectionObject({
  type: EventRef,
  name: 'EventConnection',
  description:
    'A page of the log. The log grows without bound, so it has no totalCount (counting would read all of it): page with cursors.',
});

export const AggregateEventConnection = builder.connectionObject(
  {
    type: EventRef,
    name: 'AggregateEventConnection',
    description: "A page of one aggregate's events.",
    fields: (t) => ({
      totalCount: t.int({
        description: "The aggregate's events in all: its version, read only when asked for.",
        // Query.events returns its page with this thunk; the connection type knows only edges and pageInfo.
        resolve: (connection) => (connection as unknown as { totalCount: () => Promise<number> }).totalCount(),
      }),
    }),
  },
  { name: 'AggregateEventConnectionEdge' },
);

/**
 * A page of one stream's events in version order: `first` after the `after` cursor (or from
 * version `from`), read by `read(fromVersion, limit)`, with the stream's length as totalCount.
 */
export async function streamPage(
  args: { first?: number | null | undefined; after?: string | null | undefined },
  read: (fromVersion: number, limit: number) => Promise<StoredEvent[]>,
  length: () => Promise<number>,
  from = 1,
) {
  const size = pageSize(args.first);
  const rows = await read(Math.max(from, args.after ? cursors.version.decode(args.after) + 1 : 1), size + 1);
  return { ...forwardPage(rows, size, Boolean(args.after), (event) => cursors.version.encode(event.version)), totalCount: length };
}

builder.queryFields((t) => ({
  events: t.field({
    type: AggregateEventConnection,
    description: "One aggregate's events in version order.",
    args: {
      aggregateType: t.arg({ type: AggregateTypeEnum, required: true }),
      aggregateId: t.arg.id({ required: true }),
      fromVersion: t.arg.int({ defaultValue: 1 }),
      first: t.arg.int(),
      after: t.arg.string(),
    },
    resolve: (_root, args, { services, scope, answer }) => {
      const stream = { type: args.aggregateType, id: String(args.aggregateId), workspaceId: scope.actor.workspaceId };
      return streamPage(
        args,
        (from, limit) => services.history.stream(stream, from, limit, answer),
        () => services.history.length(stream),
        args.fromVersion ?? 1,
      );
    },
  }),
  eventLog: t.field({
    type: EventConnection,
    description: 'The global log in commit-safe order (docs/design.md): an edge cursor resumes the read with no event skipped or repeated.',
    args: {
      after: t.arg.string(),
      first: t.arg.int(),
      aggregateType: t.arg({ type: AggregateTypeEnum }),
      types: t.arg.stringList(),
    },
    resolve: async (_root, args, { services, scope, answer }) => {
      const size = pageSize(args.first);
      const after = args.after ? cursors.log.decode(args.after) : LOG_START;
      const rows = await services.history.log(
        after,
        size + 1,
        { workspaceId: scope.actor.workspaceId, aggregateType: args.aggregateType ?? undefined, types: args.types ?? undefined },
        answer,
      );
      return forwardPage(rows, size, Boolean(args.after), cursors.log.encode);
    },
  }),
  auditLog: t.field({
    type: EventConnection,
    description: 'Who did what, newest first. Admins only.',
    authScopes: { role: 'ADMIN' },
    args: {
      userId: t.arg.id(),
      eventType: t.arg.string(),
      aggregateType: t.arg({ type: AggregateTypeEnum }),
      from: t.arg({ type: 'DateTime', description: 'Inclusive.' }),
      to: t.arg({ type: 'DateTime', description: 'Exclusive.' }),
      first: t.arg.int(),
      after: t.arg.string(),
    },
    resolve: async (_root, args, { services, scope, answer }) => {
      const size = pageSize(args.first);
      const rows = await services.history.audit(
        {
          workspaceId: scope.actor.workspaceId,
          actorId: args.userId == null ? undefined : String(args.userId),
          type: args.eventType ?? undefined,
          aggregateType: args.aggregateType ?? undefined,
          from: args.from ?? undefined,
          to: args.to ?? undefined,
          before: args.after ? cursors.audit.decode(args.after) : undefined,
        },
        size + 1,
        answer,
      );
      return forwardPage(rows, size, Boolean(args.after), (event) => cursors.audit.encode(event.globalPosition));
    },
  }),
}));

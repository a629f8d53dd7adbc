import type { LiveItem } from '../../app/live-subscription.ts';
import { builder } from '../builder.ts';
import { cursors } from '../connections.ts';
import { AggregateTypeEnum, EventRef } from './event.ts';

const EventStreamItemRef = builder.objectRef<LiveItem>('EventStreamItem').implement({
  description: 'One item of Subscription.events: an event, or (once) the marker that the stored events are all delivered.',
  fields: (t) => ({
    cursor: t.string({
      description: 'Resume here (Subscription.events or Query.eventLog `after`) to get exactly what follows.',
      resolve: (item) => cursors.log.encode(item.position),
    }),
    event: t.field({
      type: EventRef,
      nullable: true,
      description: 'null on the caught-up marker.',
      resolve: (item, _args, { answer }) => {
        if (item.event) answer.spend(item.event.dataBytes);
        return item.event;
      },
    }),
    caughtUp: t.boolean({
      description: 'true on the marker and on every event delivered live after it; false while reading stored events.',
      resolve: (item) => item.caughtUp,
    }),
  }),
});

builder.subscriptionType({});

builder.subscriptionFields((t) => ({
  events: t.field({
    type: EventStreamItemRef,
    description:
      'The global log, live: the stored events after `after` first, then each new event as it commits, in ' +
      'Query.eventLog order, with no gap and no repeat. Without `after`, only what happens from now on.',
    args: {
      after: t.arg.string(),
      aggregateType: t.arg({ type: AggregateTypeEnum }),
      aggregateId: t.arg.id(),
      types: t.arg.stringList(),
    },
    subscribe: (_root, args, { services, scope, stillAuthorized, subscription }) =>
      subscription((onEnd) =>
        services.live.subscribe(
          args.after ? cursors.log.decode(args.after) : null,
          {
            workspaceId: scope.actor.workspaceId,
            aggregateType: args.aggregateType ?? undefined,
            aggregateId: args.aggregateId == null ? undefined : String(args.aggregateId),
            types: args.types ?? undefined,
          },
          stillAuthorized,
          onEnd,
        ),
      ),
    resolve: (item: LiveItem) => {
      if (item.failure) throw item.failure;
      return item;
    },
  }),
}));

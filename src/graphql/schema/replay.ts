import type { Replay } from '../../app/history.ts';
import { builder } from '../builder.ts';
import { AggregateEventConnection, AggregateTypeEnum, streamPage } from './event.ts';

const ReplayRef = builder.objectRef<Replay>('Replay').implement({
  description: 'An aggregate as it was: its events folded up to a version or an instant.',
  fields: (t) => ({
    aggregateType: t.field({ type: AggregateTypeEnum, resolve: (replay) => replay.aggregateType }),
    aggregateId: t.exposeID('aggregateId'),
    version: t.exposeInt('version', { description: 'The version reached; 0 before the first event.' }),
    state: t.field({ type: 'JSON', nullable: true, resolve: (replay, _args, { answer }) => answer.take(replay.state) }),
    events: t.field({
      type: AggregateEventConnection,
      description: 'The events applied, in version order, a page at a time; totalCount is the version reached.',
      args: { first: t.arg.int(), after: t.arg.string() },
      resolve: (replay, args, { answer }) =>
        streamPage(
          args,
          (from, limit) => replay.events(from, limit, answer),
          async () => replay.version,
        ),
    }),
  }),
});

builder.queryFields((t) => ({
  replay: t.field({
    type: ReplayRef,
    description: 'Time travel. With neither toVersion nor at, the current state.',
    args: {
      aggregateType: t.arg({ type: AggregateTypeEnum, required: true }),
      aggregateId: t.arg.id({ required: true }),
      toVersion: t.arg.int(),
      at: t.arg({ type: 'DateTime' }),
    },
    // What the fold reads is charged to the workspace's read rate; its state, to the answer when selected.
    resolve: (_root, args, { services, scope, answer }) =>
      services.history.replay(
        { type: args.aggregateType, id: String(args.aggregateId), workspaceId: scope.actor.workspaceId },
        { toVersion: args.toVersion, at: args.at },
        answer,
      ),
  }),
}));

import type { ChainBreak, ChainReport } from '../../store/event-store.ts';
import { builder } from '../builder.ts';
import { AggregateTypeEnum } from './event.ts';

const BreakReasonEnum = builder.enumType('AuditTrailBreakReason', {
  values: {
    HASH_MISMATCH: { description: 'The event, or the one before it, was changed after it was written.' },
    VERSION_GAP: { description: 'Events before this one are missing.' },
    MISSING_EVENTS: { description: "Events at the end of the stream are missing: the stream's version is ahead of them." },
  } as const,
});

const BreakRef = builder.objectRef<ChainBreak>('AuditTrailBreak').implement({
  fields: (t) => ({
    aggregateType: t.field({ type: AggregateTypeEnum, resolve: (at) => at.aggregateType }),
    aggregateId: t.exposeID('aggregateId'),
    version: t.exposeInt('version', { description: 'The first version whose chain does not hold.' }),
    eventId: t.exposeID('eventId', { nullable: true, description: 'null for MISSING_EVENTS.' }),
    reason: t.field({ type: BreakReasonEnum, resolve: (at) => at.reason }),
  }),
});

const ReportRef = builder.objectRef<ChainReport>('AuditTrailReport').implement({
  description: 'The hash chain recomputed from the stored events (docs/security.md).',
  fields: (t) => ({
    intact: t.boolean({ resolve: (report) => report.firstBreak === null }),
    eventsChecked: t.exposeInt('eventsChecked'),
    firstBreak: t.field({ type: BreakRef, nullable: true, resolve: (report) => report.firstBreak }),
  }),
});

builder.queryFields((t) => ({
  verifyAuditTrail: t.field({
    type: ReportRef,
    authScopes: { role: 'ADMIN' },
    description: "Recomputes one aggregate's hash chain and reports where it first breaks. Admins only.",
    args: {
      aggregateType: t.arg({ type: AggregateTypeEnum, required: true }),
      aggregateId: t.arg.id({ required: true }),
    },
    resolve: (_root, args, { services, scope }) =>
      services.history.verifyChain({
        workspaceId: scope.actor.workspaceId,
        aggregateType: args.aggregateType,
        aggregateId: String(args.aggregateId),
      }),
  }),
}));

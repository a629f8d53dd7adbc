import type { EngineStats } from '../../engine/engine.ts';
import { MAX_HOSTS, type BreakerState } from '../../engine/breakers.ts';
import type { WorkspaceLimits } from '../../domain/workspaces/limits.ts';
import { VERSION } from '../../version.ts';
import { builder } from '../builder.ts';

const BreakerStateEnum = builder.enumType('CircuitBreakerState', {
  description: 'HALF_OPEN: open long enough that the next call may try the host again.',
  values: ['CLOSED', 'OPEN', 'HALF_OPEN', 'ISOLATED'] as const,
});

const BreakerRef = builder.objectRef<{ host: string; state: BreakerState }>('CircuitBreaker').implement({
  fields: (t) => ({
    host: t.exposeString('host'),
    state: t.field({ type: BreakerStateEnum, resolve: (breaker) => breaker.state }),
  }),
});

const EngineStatsRef = builder.objectRef<EngineStats>('ExecutionEngineStats').implement({
  description:
    "This process's engine, as your workspace sees it: its own executions and breakers, and the process's shared " +
    'capacity (steps and limits). Counts are since the process started.',
  fields: (t) => ({
    active: t.exposeInt('active', { description: "Your workspace's executions running in this process." }),
    queued: t.exposeInt('queued', { description: "Your workspace's executions due and waiting for a process (all processes)." }),
    parked: t.exposeInt('parked', {
      description: "Your workspace's executions set aside until a long wait ends: they hold no slot meanwhile (all processes).",
    }),
    succeeded: t.exposeInt('succeeded'),
    failed: t.exposeInt('failed'),
    cancelled: t.exposeInt('cancelled', { description: 'Runs this process stopped because their execution was cancelled here.' }),
    timedOut: t.exposeInt('timedOut'),
    stepsInFlight: t.exposeInt('stepsInFlight', { description: 'Actions running in this process, for every workspace.' }),
    stepsQueued: t.exposeInt('stepsQueued', { description: 'Actions waiting for one of the maxStepsInFlight slots.' }),
    maxExecutions: t.exposeInt('maxExecutions'),
    maxStepsInFlight: t.exposeInt('maxStepsInFlight'),
    circuitBreakers: t.field({
      type: [BreakerRef],
      extensions: { maxItems: MAX_HOSTS },
      description: "One per host your workspace's executions called in this process.",
      resolve: (stats) => stats.breakers,
    }),
  }),
});

const LimitsRef = builder.objectRef<WorkspaceLimits>('WorkspaceLimits').implement({
  description: "Your workspace's budgets per execution and quotas (docs/security.md), as operators set them.",
  fields: (t) => ({
    maxSteps: t.exposeInt('maxSteps', { description: 'Step attempts one execution may start.' }),
    maxEvents: t.exposeInt('maxEvents', { description: 'Events one execution may write.' }),
    maxBytes: t.exposeInt('maxBytes', { description: 'Event data one execution may write, in bytes.' }),
    timeoutMs: t.exposeInt('timeoutMs', { description: 'The deadline of an execution whose definition sets none.' }),
    maxConditionMs: t.exposeInt('maxConditionMs', { description: "Time one execution's conditions may take in all." }),
    maxActiveExecutions: t.exposeInt('maxActiveExecutions', { description: 'Executions under way at once.' }),
    maxWorkflows: t.exposeInt('maxWorkflows', { description: 'Workflows, deleted ones aside.' }),
    maxStepsPerSecond: t.exposeInt('maxStepsPerSecond', {
      description: 'Steps its executions start per second, in each process: past it they wait their turn.',
    }),
    maxReadBytesPerSecond: t.exposeInt('maxReadBytesPerSecond', {
      description: 'Data its reads bring per second, in each process: past it reads wait their turn.',
    }),
    maxConditionMsPerSecond: t.exposeInt('maxConditionMsPerSecond', {
      description: 'Time its conditions take per second, in each process: past it its choices wait their turn.',
    }),
    maxWriteBytesPerSecond: t.exposeInt('maxWriteBytesPerSecond', {
      description: 'Event data its executions write per second, in each process: past it their next steps wait their turn.',
    }),
  }),
});

const SystemStatusRef = builder.objectRef<{ engine: EngineStats | null; limits: WorkspaceLimits }>('SystemStatus').implement({
  description: 'The process that answers this query.',
  fields: (t) => ({
    version: t.string({ description: "The release this process runs: package.json's version.", resolve: () => VERSION }),
    limits: t.field({ type: LimitsRef, resolve: (status) => status.limits }),
    engine: t.field({
      type: EngineStatsRef,
      nullable: true,
      description: 'null when this process leaves executions to workers (RUN_EXECUTIONS=false).',
      resolve: (status) => status.engine,
    }),
  }),
});

builder.queryFields((t) => ({
  systemStatus: t.field({
    type: SystemStatusRef,
    authScopes: { role: 'ADMIN' },
    resolve: async (_root, _args, { services, scope }) => ({
      engine: (await services.engine?.statsOf(scope.actor.workspaceId)) ?? null,
      limits: await services.limits.of(scope.actor.workspaceId),
    }),
  }),
}));

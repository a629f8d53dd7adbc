import type { EngineStats } from '../../engine/engine.ts';
import { MAX_HOSTS, type BreakerState } from '../../engine/breakers.ts';
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
    queued: t.exposeInt('queued', { description: "Your workspace's executions no process holds yet (all processes)." }),
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

const SystemStatusRef = builder.objectRef<{ engine: EngineStats | null }>('SystemStatus').implement({
  description: 'The process that answers this query.',
  fields: (t) => ({
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
    }),
  }),
}));

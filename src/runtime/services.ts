import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { Config } from '../config.ts';
import { CommandHandler } from '../app/command-handler.ts';
import { History } from '../app/history.ts';
import { IdentityService } from '../app/identity.ts';
import { Limits } from '../app/limits.ts';
import { Pace } from '../app/pace.ts';
import { TokenVerifier } from '../app/tokens.ts';
import { LiveLog } from '../app/live-log.ts';
import { CacheInvalidation } from '../app/cache-invalidation.ts';
import { ResponseCache } from '../app/response-cache.ts';
import { ExecutionService } from '../app/executions.ts';
import { WorkflowService } from '../app/workflows.ts';
import { ACTIONS } from '../engine/actions/index.ts';
import { EXECUTION } from '../domain/executions/execution.ts';
import { Engine } from '../engine/engine.ts';
import { OverdueSweeper } from '../engine/overdue.ts';
import { budgetOf } from '../domain/workspaces/limits.ts';
import { JobQueue } from '../store/job-queue.ts';
import { ExecutionRows } from '../store/execution-rows.ts';
import type { Database } from '../store/database.ts';
import { type EventStore, NEW_STREAM } from '../store/event-store.ts';
import { PostgresEventStore } from '../store/events/postgres-event-store.ts';
import { WorkflowRows } from '../store/workflow-rows.ts';
import { AppendNotifications } from '../store/notifications.ts';
import { DatabaseWatch } from './database-watch.ts';
import { createBulkhead, type Bulkhead, type BulkheadStats } from './bulkhead.ts';
import { log } from './log.ts';
import { startTracing, type Tracing } from '../ops/tracing.ts';
import { PersistedOperations } from './persisted-operations.ts';
import { REST_DOCUMENTS } from '../rest/routes/index.ts';
import { RateLimit } from './rate-limit.ts';
import { SubscriptionQuota } from '../graphql/subscription-quota.ts';

/** Everything a request may use, built once per process from the config and the database. */
export interface Services {
  readonly config: Config;
  readonly db: Database;
  readonly store: EventStore;
  readonly workflows: WorkflowService;
  readonly executions: ExecutionService;
  /** null when this process leaves executions to other processes (RUN_EXECUTIONS=false). */
  readonly engine: Engine | null;
  readonly identity: IdentityService;
  /** Each workspace's budgets and quotas. */
  readonly limits: Limits;
  /** Each workspace's read rate (maxReadBytesPerSecond): heavy reads wait their turn. */
  readonly readPace: Pace;
  /** null when no JWT key is configured: only API keys are accepted. */
  readonly tokens: TokenVerifier | null;
  readonly history: History;
  readonly live: LiveLog;
  readonly notifications: AppendNotifications;
  readonly heavyReads: Bulkhead & { stats(): BulkheadStats };
  readonly subscriptionQuota: SubscriptionQuota;
  /** Set when only listed operations may run (PERSISTED_OPERATIONS). */
  readonly persistedOperations: PersistedOperations | null;
  /** null when RATE_LIMIT_PER_SECOND is 0. */
  readonly rateLimit: RateLimit | null;
  /** Whether the database answers, as this process last saw. */
  readonly database: DatabaseWatch;
  /** Times out executions past their deadline that no process runs. */
  readonly overdue: OverdueSweeper;
  /** Answers kept until the log says they changed; null when RESPONSE_CACHE_BYTES is 0. */
  readonly responseCache: ResponseCache | null;
  /** null unless OpenTelemetry traces are configured (OTEL_*). */
  readonly tracing: Tracing | null;
  /** Stops the engine, the live log and its listener; the database stays open. */
  stop(): Promise<void>;
}

/**
 * What a request's resolvers are handed: the application services and the settings, never
 * the database or the event store, so that every read and write goes through the rules the
 * services keep (tenancy, ids, limits), whatever the transport.
 */
export type AppServices = Pick<
  Services,
  | 'config'
  | 'workflows'
  | 'executions'
  | 'engine'
  | 'identity'
  | 'limits'
  | 'readPace'
  | 'tokens'
  | 'history'
  | 'live'
  | 'subscriptionQuota'
  | 'rateLimit'
>;

export async function startServices(config: Config, db: Database): Promise<Services> {
  // First, as it reads key files: a bad one stops the start before anything runs.
  const tokens = config.jwt ? await TokenVerifier.create(config.jwt) : null;
  const tracing = config.tracing ? await startTracing(config.tracing) : null;
  if (tracing) db.traceStatements(tracing.tracer);
  const responseCache = config.responseCacheBytes > 0 ? new ResponseCache({ maxBytes: config.responseCacheBytes }) : null;
  const invalidation = responseCache ? new CacheInvalidation(responseCache) : null;
  const store = new PostgresEventStore(db, invalidation ? (events) => invalidation.committed(events) : undefined);
  const heavyReads = createBulkhead(config.heavyReadConcurrency, config.heavyReadQueue);
  const live = new LiveLog(store, {
    batchSize: config.liveBatchSize,
    batchBytes: config.maxResponseBytes,
    bufferLimit: config.liveBufferLimit,
    pollIntervalMs: config.livePollIntervalMs,
    catchUpConcurrency: config.heavyReadConcurrency,
  });
  await live.start();
  if (invalidation) live.follow(invalidation);
  const jobs = new JobQueue(db);
  const limits = new Limits(db, config.limits);
  const engine = config.runExecutions
    ? new Engine(store, jobs, {
        maxExecutions: config.maxRunningExecutions,
        maxExecutionsPerWorkspace: config.maxRunningExecutionsPerWorkspace,
        maxStepsInFlight: config.maxStepsInFlight,
        maxStepsPerWorkspace: config.maxStepsInFlightPerWorkspace,
        conditionWorkers: config.conditionWorkers,
        parkAfterMs: config.waitParkMs,
        defaultBudget: budgetOf(config.limits),
        limitsOf: (workspaceId) => limits.of(workspaceId),
        leaseMs: config.executionLeaseMs,
        maxFailedRuns: config.executionMaxFailedRuns,
        maxTakeovers: config.executionMaxTakeovers,
        pollIntervalMs: config.executionPollIntervalMs,
        defaultStepTimeoutMs: config.defaultStepTimeoutMs,
        conditionTimeoutMs: config.conditionTimeoutMs,
        maxOutputBytes: config.maxStepOutputBytes,
        maxInputBytes: config.maxStepInputBytes,
        breakers: { failures: config.breakerFailures, halfOpenAfterMs: config.breakerHalfOpenMs },
        allowedHosts: config.httpAllowedHosts,
        log,
        trace: tracing?.span,
      })
    : null;
  const database = new DatabaseWatch(db, log, config.databaseCheckIntervalMs);
  database.start();
  const overdue = new OverdueSweeper(store, jobs, {
    intervalMs: config.executionSweepIntervalMs,
    leaseMs: config.executionLeaseMs,
    defaultBudget: budgetOf(config.limits),
    log,
  });
  overdue.start();
  const notifications = new AppendNotifications(db.connectionString, (aggregateType, fromHere) => {
    live.wake(fromHere);
    // Only a new execution brings an engine work it would not find at its poll: not a running one's progress.
    if (aggregateType === null || aggregateType === `${EXECUTION}${NEW_STREAM}`) engine?.wake();
  });
  await notifications.start();
  engine?.start();
  const commands = new CommandHandler(store);
  const workflows = new WorkflowService(
    commands,
    { maxBytes: config.maxDefinitionBytes, actions: new Set(ACTIONS.keys()) },
    new WorkflowRows(db),
    limits,
    config.workflowCountTrustMs,
  );
  return {
    config,
    db,
    store,
    workflows,
    executions: new ExecutionService(commands, workflows, jobs, new ExecutionRows(db), limits, config.maxExecutionInputBytes, {
      // The engine's claim is its own work, not part of the request that woke it (nor of its trace).
      started: () => context.with(ROOT_CONTEXT, () => engine?.poke()),
      cancelled: (id) => engine?.interrupt(id),
    }),
    engine,
    identity: new IdentityService(db, config.authCacheTtlMs),
    limits,
    // A read that would wait longer than this is refused (RATE_LIMITED) rather than held.
    readPace: new Pace('read rate (maxReadBytesPerSecond)', 10_000),
    tokens,
    history: new History(store, heavyReads),
    live,
    notifications,
    heavyReads,
    subscriptionQuota: new SubscriptionQuota(config.maxSubscriptionsPerKey, config.maxSubscriptionsPerWorkspace),
    persistedOperations: config.persistedOperationsFile
      ? PersistedOperations.fromFile(config.persistedOperationsFile, REST_DOCUMENTS)
      : null,
    rateLimit: config.rateLimitPerSecond > 0 ? new RateLimit(config.rateLimitPerSecond, config.rateLimitPerWorkspacePerSecond) : null,
    database,
    overdue,
    responseCache,
    tracing,
    async stop() {
      await overdue.stop();
      await engine?.stop();
      await notifications.stop();
      await live.stop();
      await database.stop();
      await tracing?.shutdown();
    },
  };
}

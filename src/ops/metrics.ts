import cluster from 'node:cluster';
import { getOperationAST, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Services } from '../runtime/services.ts';
import { reportToCluster, scrapeCluster } from './cluster-metrics.ts';
import { VERSION } from '../version.ts';

/** One HTTP (or SSE) request, as it was answered. */
export interface RequestDone {
  readonly request: Request;
  readonly operation: string;
  readonly status: number;
  readonly durationMs: number;
}

export interface Metrics {
  readonly contentType: string;
  /** Times HTTP and SSE operations by root field, then tells `done`; errors are counted by `countError`. */
  plugin(done?: (request: RequestDone) => void): Plugin;
  /** Times an answer the response cache gave (Yoga times the rest). */
  observe(operation: string, durationMs: number): void;
  /** An error as the client gets it, by its code: called by the error masks of every transport. */
  countError(code: unknown): void;
  /** This process's figures; in a cluster worker, every process's, each labelled with its worker slot. */
  render(): Promise<string>;
  close(): void;
}

/** `Query.workflows`: a label bounded by the schema (operation names are the client's, and unbounded). */
export function operationLabel(document: DocumentNode, operationName: string | null | undefined): string {
  const operation = getOperationAST(document, operationName);
  if (!operation) return 'unknown';
  const type = operation.operation[0]!.toUpperCase() + operation.operation.slice(1);
  const first = operation.selectionSet.selections.find((selection) => selection.kind === 'Field');
  return `${type}.${first?.kind === 'Field' ? first.name.value : 'unknown'}`;
}

/**
 * Prometheus metrics of one server process (prom-client, a registry of its own): request
 * durations by operation, errors by code, the database pool, the bulkhead and engine queues,
 * live subscriptions, executions and circuit breakers, and Node's own process metrics.
 */
export function createMetrics(services: Services): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'flowledger_' });
  const registers = [registry];
  const duration = new Histogram({
    name: 'flowledger_graphql_request_duration_seconds',
    help: 'HTTP and SSE GraphQL requests, from arrival to response headers, by root field (an SSE subscription: until it starts)',
    labelNames: ['operation'],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5],
    registers,
  });
  // The pid is here only: on every series it would start new ones at each restart, where a
  // counter reset under the same series is what rate() and a cluster's worker slots expect.
  new Gauge({
    name: 'flowledger_build_info',
    help: 'The process: always 1, its release and pid in its labels',
    labelNames: ['version', 'pid'],
    registers,
  }).set({ version: VERSION, pid: String(process.pid) }, 1);
  const errors = new Counter({
    name: 'flowledger_graphql_errors_total',
    help: 'Errors sent to clients, by code, on every transport',
    labelNames: ['code'],
    registers,
  });
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    collect: (set: (labels: Record<string, string>, value: number) => void) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        collect((labels, value) => this.set(labels, value));
      },
    });
  gauge(
    'flowledger_db_pool_connections',
    "Database connections of this process: the pool, and (write_*) the transactions' own",
    ['state'],
    (set) => {
      const { pool } = services.db;
      set({ state: 'total' }, pool.totalCount);
      set({ state: 'idle' }, pool.idleCount);
      set({ state: 'waiting_clients' }, pool.waitingCount);
      const { writers } = services.db;
      set({ state: 'write_total' }, writers.totalCount);
      set({ state: 'write_idle' }, writers.idleCount);
      set({ state: 'write_waiting_clients' }, writers.waitingCount);
    },
  );
  gauge('flowledger_database_up', 'Whether this process reached its database at its last check (every second)', [], (set) =>
    set({}, services.database.up ? 1 : 0),
  );
  gauge('flowledger_heavy_reads', 'Replays and log reads (the heavy-read bulkhead)', ['state'], (set) => {
    const stats = services.heavyReads.stats();
    set({ state: 'active' }, stats.active);
    set({ state: 'queued' }, stats.queued);
    set({ state: 'rejected_since_start' }, stats.rejected);
  });
  gauge('flowledger_live_subscriptions', 'Live-log subscriptions of this process', ['state'], (set) => {
    const stats = services.live.stats();
    set({ state: 'open' }, stats.subscriptions);
    set({ state: 'catching_up' }, stats.catchingUp);
    set({ state: 'buffered_events' }, stats.bufferedEvents);
  });
  gauge(
    'flowledger_response_cache',
    'The response cache: answers by where they came from, entries dropped and refused since start; its entries and bytes now',
    ['state'],
    (set) => {
      const stats = services.responseCache?.stats();
      if (!stats) return;
      set({ state: 'hits' }, stats.hits);
      set({ state: 'misses' }, stats.misses);
      set({ state: 'shared' }, stats.shared);
      set({ state: 'invalidations' }, stats.invalidations);
      set({ state: 'refused_stale' }, stats.refusedStale);
      set({ state: 'entries' }, stats.entries);
      set({ state: 'bytes' }, stats.bytes);
    },
  );
  // One engine snapshot per scrape, read by the three gauges below: it adds up every
  // workspace's counts and lists every breaker.
  let engine: ReturnType<NonNullable<Services['engine']>['stats']> | undefined;
  gauge('flowledger_executions', "This process's engine: executions by state (finished ones since start)", ['state'], (set) => {
    if (!engine) return;
    for (const state of ['active', 'queued', 'parked', 'succeeded', 'failed', 'cancelled', 'timedOut'] as const)
      set({ state }, engine[state]);
  });
  gauge(
    'flowledger_execution_queue_oldest_seconds',
    'How long the queued execution due the longest has waited for a process',
    [],
    (set) => {
      if (engine) set({}, engine.oldestQueuedSeconds);
    },
  );
  gauge('flowledger_steps', "This process's actions: running and waiting for a slot", ['state'], (set) => {
    if (!engine) return;
    set({ state: 'in_flight' }, engine.stepsInFlight);
    set({ state: 'queued' }, engine.stepsQueued);
  });
  gauge('flowledger_circuit_breakers', 'Circuit breakers of called hosts, by state', ['state'], (set) => {
    const counts = new Map<string, number>([
      ['CLOSED', 0],
      ['OPEN', 0],
      ['HALF_OPEN', 0],
      ['ISOLATED', 0],
    ]);
    for (const { state } of engine?.breakers ?? []) counts.set(state, counts.get(state)! + 1);
    for (const [state, count] of counts) set({ state }, count);
  });

  const collect = () => {
    engine = services.engine?.stats();
    return registry.getMetricsAsJSON();
  };
  const stopReporting = cluster.isWorker ? reportToCluster(collect) : () => {};

  const started = new WeakMap<Request, { at: number; operation: string }>();
  // Queries and mutations are executed, subscriptions subscribed: either names the request's operation.
  const named = ({ args }: { args: { contextValue: unknown; document: DocumentNode; operationName?: string | null } }) => {
    const entry = started.get((args.contextValue as { request: Request }).request);
    if (entry) entry.operation = operationLabel(args.document, args.operationName);
  };
  return {
    contentType: registry.contentType,
    plugin: (done) => ({
      onRequest({ request }) {
        started.set(request, { at: performance.now(), operation: 'none' });
      },
      onExecute: named,
      onSubscribe: named,
      onResponse({ request, response }) {
        const entry = started.get(request);
        if (!entry) return;
        const durationMs = performance.now() - entry.at;
        duration.observe({ operation: entry.operation }, durationMs / 1000);
        done?.({ request, operation: entry.operation, status: response.status, durationMs });
      },
    }),
    observe: (operation, durationMs) => duration.observe({ operation }, durationMs / 1000),
    countError: (code) => errors.inc({ code: typeof code === 'string' ? code : 'NO_CODE' }),
    render: () => {
      if (cluster.isWorker) return scrapeCluster();
      engine = services.engine?.stats();
      return registry.metrics();
    },
    close: stopReporting,
  };
}

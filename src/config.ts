// Every setting is an environment variable; README.md lists them.
import { availableParallelism } from 'node:os';
import { LIMIT_RANGES, type WorkspaceLimits } from './domain/workspaces/limits.ts';

export interface Config {
  readonly environment: 'development' | 'production' | 'test';
  readonly host: string;
  readonly port: number;
  /** Server processes on the port (CLUSTER_WORKERS; "auto": one per core). */
  readonly clusterWorkers: number;
  /** Unset: an embedded PostgreSQL is started with its data under dataDir. */
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly embeddedPostgresPort: number;
  readonly databasePoolSize: number;
  /** Of the pool's connections, those of transactions, kept apart: reads never wait behind commits. */
  readonly databaseWritePoolSize: number;
  readonly databaseConnectTimeoutMs: number;
  readonly databaseStatementTimeoutMs: number;
  /** How often the process checks that its database answers (and at once when a request finds it gone). */
  readonly databaseCheckIntervalMs: number;
  readonly maxDefinitionBytes: number;
  readonly heavyReadConcurrency: number;
  readonly heavyReadQueue: number;
  readonly authCacheTtlMs: number;
  /** A JSON log line per HTTP request (LOG_REQUESTS). */
  readonly logRequests: boolean;
  /** When set, /metrics wants it as a bearer token. */
  readonly metricsToken: string | undefined;
  /** JWT bearer tokens, when a key to verify them is configured (docs/security.md). */
  readonly jwt: JwtConfig | undefined;
  /** OpenTelemetry traces (the standard OTEL_* variables); undefined: off, the default. */
  readonly tracing: TracingConfig | undefined;
  /** The live log's fallback poll; also how often open subscriptions re-check their key. */
  readonly livePollIntervalMs: number;
  /** How long a count of a workspace's workflows (its quota) is trusted with this process's creates added. */
  readonly workflowCountTrustMs: number;
  /** Events one subscription may hold in memory before it reads the store at its own pace. */
  readonly liveBufferLimit: number;
  readonly liveBatchSize: number;
  /** Largest HTTP request body and WebSocket message. */
  readonly maxBodyBytes: number;
  /** What the response cache may hold, in bytes; 0 turns it off. */
  readonly responseCacheBytes: number;
  /** How long a read presenting a consistency token waits for this process's log to reach it. */
  readonly readAfterTimeoutMs: number;
  /** Most data (event data, states, definitions, inputs, outputs) one answer may hold. */
  readonly maxResponseBytes: number;
  readonly maxQueryDepth: number;
  readonly maxQueryAliases: number;
  readonly maxQueryTokens: number;
  readonly maxQueryCost: number;
  /** Browser origins allowed to call the API (CORS) and to open WebSockets; empty: no CORS, any WebSocket origin. */
  readonly allowedOrigins: readonly string[];
  /** Subscriptions one API key may have open at once in one process, and one workspace, all its keys together. */
  readonly maxSubscriptionsPerKey: number;
  readonly maxSubscriptionsPerWorkspace: number;
  /** Operations one API key may start per second in one process (0: no limit), and one workspace, all its keys together. */
  readonly rateLimitPerSecond: number;
  readonly rateLimitPerWorkspacePerSecond: number;
  /** A JSON file of allowed operations by SHA-256; when set, no other operation runs. */
  readonly persistedOperationsFile: string | undefined;
  /** Whether the schema may be introspected (GraphiQL, codegen); off by default in production. */
  readonly introspection: boolean;
  /** How long WebSocket writes may wait to go out together (0: the end of the event-loop turn). */
  readonly wsWriteWindowMs: number;
  /** Hosts (host or host:port) http.request may call; empty: any. */
  readonly httpAllowedHosts: readonly string[];
  /** Whether this process runs executions (a server may leave them to `npm run worker`s). */
  readonly runExecutions: boolean;
  readonly maxRunningExecutions: number;
  /** Of those, one workspace's most: another workspace always finds a slot. */
  readonly maxRunningExecutionsPerWorkspace: number;
  readonly maxStepsInFlight: number;
  readonly maxStepsInFlightPerWorkspace: number;
  /** Worker threads evaluating conditions, shared between workspaces. */
  readonly conditionWorkers: number;
  /** A wait or retry delay longer than this gives its execution's slot back until it is due. */
  readonly waitParkMs: number;
  readonly executionLeaseMs: number;
  readonly executionMaxFailedRuns: number;
  readonly executionMaxTakeovers: number;
  readonly executionSweepIntervalMs: number;
  readonly executionPollIntervalMs: number;
  readonly defaultStepTimeoutMs: number;
  readonly conditionTimeoutMs: number;
  readonly maxExecutionInputBytes: number;
  readonly maxStepOutputBytes: number;
  readonly maxStepInputBytes: number;
  readonly breakerFailures: number;
  readonly breakerHalfOpenMs: number;
  /** Every workspace's budgets and quotas, unless its own limits say otherwise (docs/security.md). */
  readonly limits: WorkspaceLimits;
}

/** Each limit's variable and default. */
const LIMITS: Record<keyof WorkspaceLimits, readonly [string, number]> = {
  maxSteps: ['EXECUTION_MAX_STEPS', 10_000],
  maxEvents: ['EXECUTION_MAX_EVENTS', 50_000],
  maxBytes: ['EXECUTION_MAX_BYTES', 16 * 1024 * 1024],
  timeoutMs: ['EXECUTION_TIMEOUT_MS', 86_400_000],
  maxConditionMs: ['EXECUTION_MAX_CONDITION_MS', 10_000],
  maxActiveExecutions: ['WORKSPACE_MAX_ACTIVE_EXECUTIONS', 1000],
  maxWorkflows: ['WORKSPACE_MAX_WORKFLOWS', 100_000],
  maxStepsPerSecond: ['WORKSPACE_MAX_STEPS_PER_SECOND', 100],
  maxReadBytesPerSecond: ['WORKSPACE_MAX_READ_BYTES_PER_SECOND', 2 * 1024 * 1024],
  maxConditionMsPerSecond: ['WORKSPACE_MAX_CONDITION_MS_PER_SECOND', 100],
  maxWriteBytesPerSecond: ['WORKSPACE_MAX_WRITE_BYTES_PER_SECOND', 4 * 1024 * 1024],
};

function limits(env: Env): WorkspaceLimits {
  return Object.fromEntries(
    Object.entries(LIMITS).map(([name, [variable, fallback]]) => {
      const [min, max] = LIMIT_RANGES[name as keyof WorkspaceLimits];
      const value = integer(env, variable, fallback, min);
      if (value > max) throw new Error(`${variable} must be at most ${max}, got "${env[variable]}"`);
      return [name, value];
    }),
  ) as unknown as WorkspaceLimits;
}

export interface TracingConfig {
  /** Where spans are POSTed (OTLP over HTTP, JSON). Its headers, timeout and compression are the exporter's OTEL_EXPORTER_OTLP_* variables. */
  readonly endpoint: string;
  readonly serviceName: string;
  readonly resourceAttributes: Readonly<Record<string, string>>;
  readonly sampler: (typeof SAMPLERS)[number];
  readonly samplerRatio: number;
  /** How long spans wait to be sent in a batch (OTEL_BSP_SCHEDULE_DELAY). */
  readonly exportDelayMs: number;
  /** Spans waiting to be sent, past which new ones are dropped (OTEL_BSP_MAX_QUEUE_SIZE), and per batch (OTEL_BSP_MAX_EXPORT_BATCH_SIZE). */
  readonly maxQueuedSpans: number;
  readonly maxSpansPerBatch: number;
  /**
   * A caller's `traceparent` (TRACE_CALLER_CONTEXT): `continue` its trace, sampled as it says;
   * or `link` to it from a trace of ours, sampled by our sampler, so that callers can neither
   * force tracing nor hide from it.
   */
  readonly callerContext: 'continue' | 'link';
}

const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

/** `key=value,key=value`, values percent-encoded: OTEL_RESOURCE_ATTRIBUTES. */
function keyValues(env: Env, name: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const part of (env[name] ?? '').split(',')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    try {
      pairs[part.slice(0, at).trim()] = decodeURIComponent(part.slice(at + 1).trim());
    } catch {
      throw new Error(`${name} must be key=value pairs with percent-encoded values, got "${part}"`);
    }
  }
  return pairs;
}

/**
 * Off unless a collector is named (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT)
 * or OTEL_TRACES_EXPORTER=otlp asks for the default one; OTEL_SDK_DISABLED=true and
 * OTEL_TRACES_EXPORTER=none turn it off. Only OTLP over HTTP with JSON is spoken: another
 * protocol asked for is refused at start rather than sent in the wrong format.
 */
function tracingConfig(env: Env): TracingConfig | undefined {
  if (env.OTEL_SDK_DISABLED === 'true') return undefined;
  const exporter = env.OTEL_TRACES_EXPORTER || undefined;
  if (exporter !== undefined && exporter !== 'otlp' && exporter !== 'none')
    throw new Error(`OTEL_TRACES_EXPORTER must be otlp or none, got "${exporter}"`);
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined;
  const signal = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || undefined;
  if (exporter === 'none' || (exporter === undefined && !base && !signal)) return undefined;
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/json';
  if (protocol !== 'http/json') throw new Error(`only OTLP over http/json is supported, got OTEL_EXPORTER_OTLP_PROTOCOL "${protocol}"`);
  const endpoint = signal ?? `${(base ?? 'http://localhost:4318').replace(/\/+$/, '')}/v1/traces`;
  if (!/^https?:$/.test(URL.parse(endpoint)?.protocol ?? ''))
    throw new Error(`the OTLP traces endpoint must be an http(s) URL, got "${endpoint}"`);
  const sampler = env.OTEL_TRACES_SAMPLER || 'parentbased_always_on';
  if (!(SAMPLERS as readonly string[]).includes(sampler))
    throw new Error(`OTEL_TRACES_SAMPLER must be one of ${SAMPLERS.join(', ')}, got "${sampler}"`);
  const arg = env.OTEL_TRACES_SAMPLER_ARG ?? '';
  const ratio = arg === '' ? 1 : /^(0|1)?(\.\d+)?$/.test(arg.trim()) && arg.trim() !== '' ? Number(arg) : NaN;
  if (!(ratio >= 0 && ratio <= 1)) throw new Error(`OTEL_TRACES_SAMPLER_ARG must be a number between 0 and 1, got "${arg}"`);
  const callerContext = env.TRACE_CALLER_CONTEXT || 'continue';
  if (callerContext !== 'continue' && callerContext !== 'link')
    throw new Error(`TRACE_CALLER_CONTEXT must be continue or link, got "${callerContext}"`);
  const resourceAttributes = keyValues(env, 'OTEL_RESOURCE_ATTRIBUTES');
  const maxQueuedSpans = integer(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048, 1);
  return {
    endpoint,
    serviceName: env.OTEL_SERVICE_NAME || resourceAttributes['service.name'] || 'flowledger',
    resourceAttributes,
    sampler: sampler as TracingConfig['sampler'],
    samplerRatio: ratio,
    exportDelayMs: integer(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000, 1),
    maxQueuedSpans,
    maxSpansPerBatch: Math.min(maxQueuedSpans, integer(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, 1)),
    callerContext,
  };
}

export interface JwtConfig {
  /** HS256: a shared secret of at least 32 bytes. */
  readonly secret: string | undefined;
  /** RS256: a PEM public key file, a JWKS file, or a JWKS URL. */
  readonly publicKeyFile: string | undefined;
  readonly jwksFile: string | undefined;
  readonly jwksUrl: string | undefined;
  readonly issuer: string;
  readonly audience: string;
  readonly clockToleranceSeconds: number;
  readonly workspaceClaim: string;
  readonly roleClaim: string;
}

type Env = Record<string, string | undefined>;

const MIN_JWT_SECRET_BYTES = 32;
const MAX_CLOCK_TOLERANCE_S = 300;

function jwtConfig(env: Env): JwtConfig | undefined {
  const keys = {
    secret: env.JWT_SECRET || undefined,
    publicKeyFile: env.JWT_PUBLIC_KEY_FILE || undefined,
    jwksFile: env.JWT_JWKS_FILE || undefined,
    jwksUrl: env.JWT_JWKS_URL || undefined,
  };
  if (Object.values(keys).every((value) => value === undefined)) return undefined;
  if (keys.secret !== undefined && Buffer.byteLength(keys.secret) < MIN_JWT_SECRET_BYTES) {
    throw new Error(`JWT_SECRET must be at least ${MIN_JWT_SECRET_BYTES} bytes`);
  }
  // One key only: with a secret and a public key both, whoever holds the secret could sign as
  // any subject of the other issuer.
  if (Object.values(keys).filter(Boolean).length > 1) {
    throw new Error('set only one of JWT_SECRET, JWT_PUBLIC_KEY_FILE, JWT_JWKS_FILE and JWT_JWKS_URL');
  }
  if (!env.JWT_ISSUER || !env.JWT_AUDIENCE) throw new Error('JWT_ISSUER and JWT_AUDIENCE are required with JWT keys');
  const clockToleranceSeconds = integer(env, 'JWT_CLOCK_TOLERANCE_S', 30);
  if (clockToleranceSeconds > MAX_CLOCK_TOLERANCE_S) throw new Error(`JWT_CLOCK_TOLERANCE_S must be at most ${MAX_CLOCK_TOLERANCE_S}`);
  return {
    ...keys,
    issuer: env.JWT_ISSUER,
    audience: env.JWT_AUDIENCE,
    clockToleranceSeconds,
    workspaceClaim: env.JWT_WORKSPACE_CLAIM || 'workspace',
    roleClaim: env.JWT_ROLE_CLAIM || 'role',
  };
}

function integer(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be an integer of at least ${min}, got "${raw}"`);
  }
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new Error(`${name} must be true or false, got "${raw}"`);
}

function environment(env: Env): Config['environment'] {
  const value = env.NODE_ENV ?? 'development';
  if (value === 'development' || value === 'production' || value === 'test') return value;
  throw new Error(`NODE_ENV must be development, production or test, got "${value}"`);
}

/** One workspace's part of a shared capacity: half by default, so that a second workspace always finds room. */
function share(env: Env, name: string, of: number): number {
  const value = integer(env, name, Math.max(1, Math.ceil(of / 2)), 1);
  if (value > of) throw new Error(`${name} (${value}) must be at most its whole (${of})`);
  return value;
}

export function loadConfig(env: Env = process.env): Config {
  const maxRunningExecutions = integer(env, 'MAX_RUNNING_EXECUTIONS', 50, 1);
  const maxStepsInFlight = integer(env, 'MAX_STEPS_IN_FLIGHT', 100, 1);
  const rateLimitPerSecond = integer(env, 'RATE_LIMIT_PER_SECOND', 2000);
  const maxSubscriptionsPerKey = integer(env, 'MAX_SUBSCRIPTIONS_PER_KEY', 100, 1);
  const config: Config = {
    environment: environment(env),
    host: env.HOST ?? '0.0.0.0',
    port: integer(env, 'PORT', 4000),
    clusterWorkers: env.CLUSTER_WORKERS === 'auto' ? availableParallelism() : integer(env, 'CLUSTER_WORKERS', 1, 1),
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.DATA_DIR ?? '.data',
    embeddedPostgresPort: integer(env, 'EMBEDDED_PG_PORT', 54329, 1),
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 30, 1),
    databaseWritePoolSize: integer(env, 'DATABASE_WRITE_POOL_SIZE', Math.ceil(integer(env, 'DATABASE_POOL_SIZE', 30, 1) / 2), 1),
    databaseConnectTimeoutMs: integer(env, 'DATABASE_CONNECT_TIMEOUT_MS', 5000, 100),
    databaseStatementTimeoutMs: integer(env, 'DATABASE_STATEMENT_TIMEOUT_MS', 30_000, 100),
    databaseCheckIntervalMs: integer(env, 'DATABASE_CHECK_INTERVAL_MS', 1000, 100),
    maxDefinitionBytes: integer(env, 'MAX_DEFINITION_BYTES', 64 * 1024, 1),
    heavyReadConcurrency: integer(env, 'HEAVY_READ_CONCURRENCY', 8, 1),
    heavyReadQueue: integer(env, 'HEAVY_READ_QUEUE', 64),
    authCacheTtlMs: integer(env, 'AUTH_CACHE_TTL_MS', 2000),
    metricsToken: env.METRICS_TOKEN || undefined,
    logRequests: flag(env, 'LOG_REQUESTS', false),
    jwt: jwtConfig(env),
    tracing: tracingConfig(env),
    livePollIntervalMs: integer(env, 'LIVE_POLL_INTERVAL_MS', 1000, 10),
    workflowCountTrustMs: integer(env, 'WORKFLOW_COUNT_TRUST_MS', 1000, 0),
    liveBufferLimit: integer(env, 'LIVE_BUFFER_LIMIT', 1000, 1),
    liveBatchSize: integer(env, 'LIVE_BATCH_SIZE', 500, 1),
    wsWriteWindowMs: integer(env, 'WS_WRITE_WINDOW_MS', 50),
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 1024 * 1024, 1),
    responseCacheBytes: integer(env, 'RESPONSE_CACHE_BYTES', 64 * 1024 * 1024),
    readAfterTimeoutMs: integer(env, 'READ_AFTER_TIMEOUT_MS', 2000),
    maxResponseBytes: integer(env, 'MAX_RESPONSE_BYTES', 16 * 1024 * 1024, 1024),
    rateLimitPerSecond,
    rateLimitPerWorkspacePerSecond: integer(env, 'RATE_LIMIT_PER_WORKSPACE_PER_SECOND', rateLimitPerSecond * 2, 1),
    allowedOrigins: (env.ALLOWED_ORIGINS ?? '')
      .split(',')
      .map((origin) => origin.trim())
      .filter(Boolean),
    maxSubscriptionsPerKey,
    maxSubscriptionsPerWorkspace: integer(env, 'MAX_SUBSCRIPTIONS_PER_WORKSPACE', maxSubscriptionsPerKey * 10, 1),
    introspection: flag(env, 'INTROSPECTION', environment(env) !== 'production'),
    persistedOperationsFile: env.PERSISTED_OPERATIONS || undefined,
    maxQueryDepth: integer(env, 'MAX_QUERY_DEPTH', 12, 1),
    maxQueryAliases: integer(env, 'MAX_QUERY_ALIASES', 15, 0),
    maxQueryTokens: integer(env, 'MAX_QUERY_TOKENS', 2000, 1),
    maxQueryCost: integer(env, 'MAX_QUERY_COST', 50_000, 1),
    runExecutions: flag(env, 'RUN_EXECUTIONS', true),
    httpAllowedHosts: (env.HTTP_ALLOWED_HOSTS ?? '')
      .split(',')
      .map((host) => host.trim().toLowerCase())
      .filter(Boolean),
    maxRunningExecutions,
    maxRunningExecutionsPerWorkspace: share(env, 'MAX_RUNNING_EXECUTIONS_PER_WORKSPACE', maxRunningExecutions),
    maxStepsInFlight,
    maxStepsInFlightPerWorkspace: share(env, 'MAX_STEPS_IN_FLIGHT_PER_WORKSPACE', maxStepsInFlight),
    conditionWorkers: integer(env, 'CONDITION_WORKERS', 2, 1),
    waitParkMs: integer(env, 'WAIT_PARK_MS', 5000, 0),
    executionLeaseMs: integer(env, 'EXECUTION_LEASE_MS', 15_000, 100),
    executionMaxFailedRuns: integer(env, 'EXECUTION_MAX_FAILED_RUNS', 20, 1),
    executionMaxTakeovers: integer(env, 'EXECUTION_MAX_TAKEOVERS', 20, 1),
    executionSweepIntervalMs: integer(env, 'EXECUTION_SWEEP_INTERVAL_MS', 60_000, 100),
    executionPollIntervalMs: integer(env, 'EXECUTION_POLL_INTERVAL_MS', 1000, 10),
    defaultStepTimeoutMs: integer(env, 'DEFAULT_STEP_TIMEOUT_MS', 60_000, 1),
    conditionTimeoutMs: integer(env, 'CONDITION_TIMEOUT_MS', 250, 1),
    maxExecutionInputBytes: integer(env, 'MAX_EXECUTION_INPUT_BYTES', 256 * 1024, 1),
    maxStepOutputBytes: integer(env, 'MAX_STEP_OUTPUT_BYTES', 1024 * 1024, 1),
    maxStepInputBytes: integer(env, 'MAX_STEP_INPUT_BYTES', 1024 * 1024, 1),
    breakerFailures: integer(env, 'BREAKER_FAILURES', 5, 1),
    breakerHalfOpenMs: integer(env, 'BREAKER_HALF_OPEN_MS', 10_000, 1),
    limits: limits(env),
  };
  // A buffer smaller than one read would overflow on every full slice: never live, never shared.
  if (config.liveBufferLimit < config.liveBatchSize) {
    throw new Error(`LIVE_BUFFER_LIMIT (${config.liveBufferLimit}) must be at least LIVE_BATCH_SIZE (${config.liveBatchSize})`);
  }
  return config;
}

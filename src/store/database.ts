import { context, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { EventEmitter } from 'node:events';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import { AmbiguousCommitError, isUnavailable } from './unavailable.ts';

// int8 (global positions) stays a string in pg's hands; we turn it into bigint ourselves.
export type Queryable = Pick<pg.PoolClient, 'query'>;

export interface Database {
  readonly connectionString: string;
  readonly pool: pg.Pool;
  /** The connections of transactions (DatabaseOptions.writePoolSize). */
  readonly writers: pg.Pool;
  /** Prisma Client on the same pool: read models and identity go through it. */
  readonly prisma: PrismaClient;
  /** Statements sent to PostgreSQL by this process (ours and Prisma's). */
  statementCount(): number;
  /** From now on, each statement sent within a trace is a span of it. */
  traceStatements(tracer: Tracer): void;
  /**
   * BEGIN, `work`, COMMIT. A COMMIT whose connection is lost before it answers throws
   * AmbiguousCommitError: the work may have committed.
   */
  transaction<T>(work: (tx: pg.PoolClient) => Promise<T>): Promise<T>;
  /**
   * One statement that is its own transaction, on a connection of transactions. A connection
   * lost before it answers throws AmbiguousCommitError: it may have committed. `timeoutMs`
   * shortens the client's wait for the answer.
   */
  write<Row extends pg.QueryResultRow>(query: pg.QueryConfig, timeoutMs?: number): Promise<pg.QueryResult<Row>>;
  /** The longest one try of a statement may take: a connection's wait, then the statement's, client side. */
  readonly tryTimeoutMs: number;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** Connections in all: the pool's and the transactions'. */
  readonly poolSize?: number;
  /**
   * Of those, the connections of transactions (appends), apart from the pool's: a read never
   * waits behind writers holding connections through their commits. Default: half.
   */
  readonly writePoolSize?: number;
  /** How long to wait for a connection, new or from the pool. */
  readonly connectTimeoutMs?: number;
  /**
   * How long a statement may run: the server cancels it then, and the client gives up a little
   * later (a connection that stalls never answers the cancel).
   */
  readonly statementTimeoutMs?: number;
}

const MAX_STATEMENT_CHARS = 2000;

/**
 * A statement as a span: its text (parameters stay out of it), ended when its answer or its
 * error arrives. A failed one says its SQLSTATE, not its message, which may quote a value.
 */
function traced(tracer: Tracer, query: (...args: unknown[]) => unknown, args: unknown[]): unknown {
  const [first] = args;
  const text = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '');
  const span = tracer.startSpan(`SQL ${/^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'statement'}`, {
    kind: SpanKind.CLIENT,
    attributes: { 'db.system.name': 'postgresql', 'db.query.text': text.slice(0, MAX_STATEMENT_CHARS) },
  });
  const end = (error?: unknown) => {
    if (error) {
      const code = (error as { code?: unknown }).code;
      span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : 'Error' });
      if (typeof code === 'string') span.setAttribute('db.response.status_code', code);
    }
    span.end();
  };
  try {
    // pg answers by callback (the pool's own queries), by promise, or (a cursor) by events.
    const last = args.at(-1);
    if (typeof last === 'function') {
      const callback = last as (error: unknown, result: unknown) => void;
      return query(...args.slice(0, -1), (error: unknown, result: unknown) => {
        end(error);
        callback(error, result);
      });
    }
    const answer = query(...args);
    if (answer instanceof Promise) answer.then(() => end(), end);
    else if (answer && typeof (answer as EventEmitter).once === 'function')
      (answer as EventEmitter).once('end', () => end()).once('error', end);
    else end();
    return answer;
  } catch (error) {
    end(error);
    throw error;
  }
}

export function openDatabase(
  connectionString: string,
  { poolSize = 20, writePoolSize = Math.ceil(poolSize / 2), connectTimeoutMs = 5000, statementTimeoutMs = 30_000 }: DatabaseOptions = {},
): Database {
  let statements = 0;
  let tracer: Tracer | undefined;
  const queryTimeoutMs = statementTimeoutMs + 2000;
  /** Clients whose connection failed: destroyed when they are released, never reused. */
  const broken = new WeakSet<pg.PoolClient>();
  const makePool = (max: number) => {
    const pool = new pg.Pool({
      connectionString,
      max,
      connectionTimeoutMillis: connectTimeoutMs,
      statement_timeout: statementTimeoutMs,
      query_timeout: queryTimeoutMs,
      // A transaction whose client went quiet gives its locks back.
      idle_in_transaction_session_timeout: statementTimeoutMs * 2,
      keepAlive: true,
    });
    pool.on('connect', (client) => {
      // Counting at the client catches every statement, whoever issues it: the N+1 test and
      // the metrics read this number.
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) => {
        statements += 1;
        // Only within a span still open: work a request left behind (a timer, a shared read) adds nothing to its trace.
        return tracer && trace.getSpan(context.active())?.isRecording() ? traced(tracer, query, args) : query(...args);
      };
      // The pool listens for errors of idle clients only. One that loses its server while it is
      // checked out (between two statements of a transaction) would otherwise emit an 'error'
      // nobody hears, and that ends the process.
      client.on('error', () => broken.add(client as pg.PoolClient));
    });
    // An idle client losing its server (restart, pg_terminate_backend) must not kill the process.
    pool.on('error', () => {});
    return pool;
  };
  const writers = makePool(Math.max(1, writePoolSize));
  const pool = makePool(Math.max(1, poolSize - writePoolSize));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });

  return {
    connectionString,
    pool,
    writers,
    prisma,
    statementCount: () => statements,
    traceStatements(using) {
      tracer = using;
    },
    tryTimeoutMs: connectTimeoutMs + queryTimeoutMs,
    async write(query, timeoutMs) {
      const client = await writers.connect();
      let lost: Error | undefined;
      try {
        return await client.query(
          timeoutMs === undefined
            ? query
            : ({ ...query, query_timeout: Math.max(1, Math.round(Math.min(timeoutMs, queryTimeoutMs))) } as pg.QueryConfig),
        );
      } catch (error) {
        if (!isUnavailable(error) && !broken.has(client)) throw error;
        lost = error as Error;
        throw new AmbiguousCommitError(error);
      } finally {
        client.release(lost);
      }
    },
    async transaction(work) {
      const client = await writers.connect();
      let lost: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(client);
        try {
          await client.query('COMMIT');
        } catch (error) {
          if (isUnavailable(error)) throw new AmbiguousCommitError(error);
          throw error;
        }
        return result;
      } catch (error) {
        if (isUnavailable(error) || broken.has(client)) lost = error as Error;
        // On a lost connection the server rolls back by itself; asking would only wait.
        else await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release(lost ?? (broken.has(client) ? new Error('connection lost') : undefined));
      }
    },
    async close() {
      await prisma.$disconnect();
      await Promise.all([pool.end(), writers.end()]);
    },
  };
}

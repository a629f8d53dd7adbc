import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';

// int8 (global positions) stays a string in pg's hands; we turn it into bigint ourselves.
export type Queryable = Pick<pg.PoolClient, 'query'>;

export interface Database {
  readonly connectionString: string;
  readonly pool: pg.Pool;
  /** Prisma Client on the same pool: read models and identity go through it. */
  readonly prisma: PrismaClient;
  /** Statements sent to PostgreSQL by this process (ours and Prisma's). */
  statementCount(): number;
  transaction<T>(work: (tx: pg.PoolClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export function openDatabase(connectionString: string, poolSize = 20): Database {
  const pool = new pg.Pool({ connectionString, max: poolSize });
  let statements = 0;
  // Counting at the client catches every statement, whoever issues it: the N+1 test and
  // the metrics read this number.
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      statements += 1;
      return query(...args);
    };
  });
  // An idle client losing its server (restart, pg_terminate_backend) must not kill the process.
  pool.on('error', () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });

  return {
    connectionString,
    pool,
    prisma,
    statementCount: () => statements,
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

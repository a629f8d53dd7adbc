import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getNullableType, isListType, isObjectType, Kind, parse, validate, type FieldNode } from 'graphql';
import { costLimit, itemsOf, UNDECLARED_LIST } from '../src/graphql/cost.ts';
import { printSortedSchema, schema } from '../src/graphql/schema/index.ts';
import { schemaChangesSql } from '../src/store/migrations.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

describe('graphql', () => {
  it('is one copy for every package that uses it (two copies make "instanceof GraphQLError" lie)', () => {
    const users = ['graphql-yoga', '@escape.tech/graphql-armor', '@pothos/core', 'graphql-ws', '@graphql-yoga/plugin-persisted-operations'];
    const copies = new Set(users.map((name) => createRequire(createRequire(import.meta.url).resolve(name)).resolve('graphql')));
    expect([...copies]).toEqual([createRequire(import.meta.url).resolve('graphql')]);
  });
});

describe('the cost of a document', () => {
  it("knows how many items every list field may hold: a page argument, a declared bound, or a connection's page", () => {
    const unbounded: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      for (const field of Object.values(type.getFields())) {
        if (!isListType(getNullableType(field.type))) continue;
        const node = { kind: Kind.FIELD, name: { kind: Kind.NAME, value: field.name } } as FieldNode;
        if (itemsOf(field, node, type) === UNDECLARED_LIST) unbounded.push(`${type.name}.${field.name}`);
      }
    }
    expect(unbounded).toEqual([]);
  });

  it('counts each field once per item of the lists around it, a variable page as the largest', () => {
    const cost = (document: string) => {
      const errors = validate(schema, parse(document), [costLimit(0)]);
      return errors[0]?.extensions.cost;
    };
    expect(cost('{ workflows(first: 100) { edges { node { id latestEvents(first: 5) { type } } } } }')).toBe(1 + 100 * 3 + 100 * 5 * 2);
    expect(cost('query($n: Int) { workflows(first: $n) { edges { node { id } } } }')).toBe(1 + 100 * 3);
    expect(cost('{ workflows { edges { node { id } } } }')).toBe(1 + 20 * 3);
    expect(cost('query($id: ID!) { replay(aggregateType: EXECUTION, aggregateId: $id) { events { edges { node { data } } } } }')).toBe(
      1 + 1 + 20 * 3,
    );
    expect(cost('query($id: ID!) { execution(id: $id) { steps { output } } }')).toBe(1 + 100 * 2);
    expect(cost('{ ...F } fragment F on Query { me { name } }')).toBe(2);
  });
});

describe('schema.graphql', () => {
  it('is the printed schema of the code (run npm run schema:print when this fails)', () => {
    expect(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8')).toBe(printSortedSchema());
  });
});

/** What a database's tables, columns, indexes, constraints and enums are: enough to compare two. */
async function catalog(url: string): Promise<unknown> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const queries = {
      columns: `SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default, datetime_precision
                FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'
                ORDER BY table_name, column_name`,
      indexes: `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
                AND tablename <> '_prisma_migrations' ORDER BY indexname`,
      constraints: `SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint
                    WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> '_prisma_migrations'
                    ORDER BY conname`,
      enums: `SELECT t.typname, e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid ORDER BY 1, e.enumsortorder`,
    };
    const result: Record<string, unknown> = {};
    for (const [name, sql] of Object.entries(queries)) result[name] = (await client.query(sql)).rows;
    return result;
  } finally {
    await client.end();
  }
}

describe('prisma/migrations', () => {
  let migrated: TestDatabase;
  let fromSchema: TestDatabase;
  beforeAll(async () => {
    migrated = await createTestDatabase(1);
    fromSchema = await createTestDatabase(1);
  });
  afterAll(async () => {
    await migrated.drop();
    await fromSchema.drop();
  });

  it('build exactly the database schema.prisma describes (run npm run db:migrate -- create NAME when this fails)', async () => {
    // The test databases are clones of one built by the committed migrations; the other is
    // rebuilt here from schema.prisma alone.
    await fromSchema.db.pool.query(`DROP SCHEMA public CASCADE; CREATE SCHEMA public;`);
    await fromSchema.db.pool.query(await schemaChangesSql(fromSchema.url));
    const expected = await catalog(fromSchema.url);
    expect(await catalog(migrated.url)).toEqual(expected);
    expect((expected as { columns: unknown[] }).columns.length).toBeGreaterThan(20);
  });

  it('are generated from what schema.prisma changed since a previous version of it', async () => {
    const current = readFileSync(new URL('../prisma/schema.prisma', import.meta.url), 'utf8');
    const withoutDescription = current.replace(/^  description String\s*\n/m, '');
    expect(withoutDescription).not.toBe(current);
    const sql = await schemaChangesSql(migrated.url, withoutDescription);
    expect(sql).toMatch(/ALTER TABLE "workflows" ADD COLUMN\s+"description" TEXT NOT NULL/);
    expect(await schemaChangesSql(migrated.url, current)).toBe('');
  });

  it('are recorded in _prisma_migrations, as prisma migrate deploy records them', async () => {
    const { rows } = await migrated.db.pool.query('SELECT migration_name, finished_at FROM _prisma_migrations');
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((row) => row.finished_at !== null)).toBe(true);
  });
});

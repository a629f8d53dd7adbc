import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import type { Queryable } from './database.ts';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import * as engineModule from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { MigrationList, SchemaFilter } from '@prisma/schema-engine-wasm';

// Prisma's native schema engine cannot be downloaded on every machine, so migrations run
// through its WebAssembly build and the pg driver adapter. They are recorded in the same
// _prisma_migrations table that `prisma migrate deploy` uses.

const PRISMA_DIR = resolve(import.meta.dirname, '../../prisma');
const SCHEMA_PATH = join(PRISMA_DIR, 'schema.prisma');
const MIGRATIONS_DIR = join(PRISMA_DIR, 'migrations');
const NO_FILTER: SchemaFilter = { externalTables: [], externalEnums: [] };

let engineReady: Promise<void> | undefined;

function instantiateEngine(): Promise<void> {
  engineReady ??= (async () => {
    // The engine reports a Rust panic's message here before it throws.
    (globalThis as Record<string, unknown>).PRISMA_WASM_PANIC_REGISTRY ??= {
      set_message: (message: string) => console.error(`prisma schema engine panicked: ${message}`),
    };
    const wasmPath = resolve(import.meta.dirname, '../../node_modules/@prisma/schema-engine-wasm/schema_engine_bg.wasm');
    const { instance } = await WebAssembly.instantiate(await readFile(wasmPath), {
      './schema_engine_bg.js': engineModule as unknown as WebAssembly.ModuleImports,
    });
    engineModule.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
  })();
  return engineReady;
}

async function withEngine<T>(
  connectionString: string,
  work: (engine: engineModule.SchemaEngine, schema: string) => Promise<T>,
): Promise<T> {
  await instantiateEngine();
  const schema = await readFile(SCHEMA_PATH, 'utf8');
  // Our own pool, so that its connections are closed when the work is done.
  const pool = new pg.Pool({ connectionString, max: 2 });
  const adapter = bindMigrationAwareSqlAdapterFactory(new PrismaPg(pool));
  const engine = await engineModule.SchemaEngine.new({ datamodels: [[SCHEMA_PATH, schema]] }, () => {}, adapter);
  try {
    return await work(engine, schema);
  } finally {
    engine.free();
    await pool.end();
  }
}

let shipped: Promise<string[]> | undefined;

/** The migrations this code ships: read once (/readyz asks on every probe), again after createMigration. */
function migrationNames(): Promise<string[]> {
  shipped ??= readdir(MIGRATIONS_DIR, { withFileTypes: true }).then((entries) =>
    entries
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort(),
  );
  return shipped;
}

/** The migrations of this code that the database has not applied (all of them on a new one). */
export async function pendingMigrations(db: Queryable): Promise<string[]> {
  const {
    rows: [table],
  } = await db.query<{ exists: boolean }>(`SELECT to_regclass('_prisma_migrations') IS NOT NULL AS exists`);
  const applied = new Set<string>();
  if (table?.exists) {
    const { rows } = await db.query<{ migration_name: string }>(
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    );
    for (const row of rows) applied.add(row.migration_name);
  }
  return (await migrationNames()).filter((name) => !applied.has(name));
}

async function listMigrations(): Promise<MigrationList> {
  const names = await migrationNames();
  const lockPath = join(MIGRATIONS_DIR, 'migration_lock.toml');
  return {
    baseDir: MIGRATIONS_DIR,
    lockfile: { path: 'migration_lock.toml', content: await readFile(lockPath, 'utf8').catch(() => null) },
    shadowDbInitScript: '',
    migrationDirectories: await Promise.all(
      names.map(async (name) => ({
        path: name,
        migrationFile: {
          path: 'migration.sql',
          content: { tag: 'ok' as const, value: await readFile(join(MIGRATIONS_DIR, name, 'migration.sql'), 'utf8') },
        },
      })),
    ),
  };
}

/** Applies the migrations not yet recorded; returns their names. */
export async function applyMigrations(connectionString: string): Promise<string[]> {
  const migrationsList = await listMigrations();
  return withEngine(connectionString, async (engine) => {
    const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList, filters: NO_FILTER });
    return appliedMigrationNames;
  });
}

/**
 * The SQL that takes a database shaped by `fromSchema` (or an empty one) to schema.prisma.
 * Only datamodels are compared: the engine cannot describe a live PostgreSQL 18 database
 * through the pg adapter (it cannot read the "char" NOT NULL constraints 18 adds).
 */
export async function schemaChangesSql(connectionString: string, fromSchema?: string): Promise<string> {
  return withEngine(connectionString, async (engine, schema) => {
    const { stdout } = await engine.diff({
      from: fromSchema === undefined ? { tag: 'empty' } : { tag: 'schemaDatamodel', files: [{ path: SCHEMA_PATH, content: fromSchema }] },
      to: { tag: 'schemaDatamodel', files: [{ path: SCHEMA_PATH, content: schema }] },
      script: true,
      exitCode: null,
      filters: NO_FILTER,
    });
    const sql = stdout ?? '';
    return /^\s*(-- This is an empty migration\.)?\s*$/.test(sql) ? '' : sql;
  });
}

/**
 * Writes the changes from `fromSchema` (schema.prisma as the last migration left it) to the
 * current schema.prisma as a new migration folder; returns its name, or nothing when the
 * two agree.
 */
export async function createMigration(connectionString: string, name: string, fromSchema: string): Promise<string | undefined> {
  const sql = await schemaChangesSql(connectionString, fromSchema);
  if (!sql) return undefined;
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const folder = `${stamp}_${name.replace(/\W+/g, '_')}`;
  await mkdir(join(MIGRATIONS_DIR, folder), { recursive: true });
  await writeFile(join(MIGRATIONS_DIR, folder, 'migration.sql'), sql);
  shipped = undefined;
  return folder;
}

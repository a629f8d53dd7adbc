import { loadConfig } from '../config.ts';
import { resolveDatabase } from '../runtime/database-url.ts';
import { openDatabase, type Database } from '../store/database.ts';
import { applyMigrations } from '../store/migrations.ts';

export class UsageError extends Error {}

/** A result printed like any other, that ends the process with another exit code (a check that failed). */
export class Outcome {
  readonly result: unknown;
  readonly exitCode: number;

  constructor(result: unknown, exitCode: number) {
    this.result = result;
    this.exitCode = exitCode;
  }
}

export interface CliContext {
  readonly url: string;
  readonly db: Database;
}

export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

export const stdio: CliOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Runs a command against the configured (or embedded) database, migrated first, and prints
 * its result as the last line. Returns the exit code: 0 done, 1 failed, 2 bad usage, or an
 * Outcome's own.
 */
export async function runCli(
  command: (context: CliContext) => Promise<unknown>,
  env: Record<string, string | undefined> = process.env,
  output: CliOutput = stdio,
): Promise<number> {
  try {
    const target = await resolveDatabase(loadConfig(env));
    try {
      await applyMigrations(target.url);
      const db = openDatabase(target.url, { poolSize: 2 });
      try {
        const returned = await command({ url: target.url, db });
        const { result, exitCode } = returned instanceof Outcome ? returned : { result: returned, exitCode: 0 };
        output.out(typeof result === 'string' ? result : JSON.stringify(result));
        return exitCode;
      } finally {
        await db.close();
      }
    } finally {
      await target.release();
    }
  } catch (error) {
    output.err(error instanceof Error ? error.message : String(error));
    return error instanceof UsageError ? 2 : 1;
  }
}

/** Entry points exit explicitly: Prisma's wasm schema engine leaves a 10 s timer behind. */
export async function exitWith(code: Promise<number>): Promise<never> {
  process.exit(await code);
}

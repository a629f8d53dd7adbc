import type { Database } from '../store/database.ts';
import { isUnavailable } from '../store/unavailable.ts';
import type { log } from './log.ts';

/**
 * Whether this process reaches its database, checked every `intervalMs`: the log says when it
 * is lost and when it is back (with how long it was gone), once each, rather than a line per
 * failed request; the metrics show it as `flowledger_database_up`.
 */
export class DatabaseWatch {
  readonly #db: Database;
  readonly #log: typeof log;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #downSince: number | null = null;
  #checking: Promise<void> | undefined;

  constructor(db: Database, logger: typeof log, intervalMs: number) {
    this.#db = db;
    this.#log = logger;
    this.#intervalMs = intervalMs;
  }

  get up(): boolean {
    return this.#downSince === null;
  }

  start(): void {
    this.#timer = setInterval(() => void this.check(), this.#intervalMs).unref();
  }

  /** Checks now (also when a request has just seen the database fail). */
  check(): Promise<void> {
    return (this.#checking ??= this.#probe().finally(() => (this.#checking = undefined)));
  }

  async #probe(): Promise<void> {
    try {
      await this.#db.pool.query('SELECT 1');
      if (this.#downSince !== null) {
        this.#log('info', 'the database is reachable again', { downMs: Math.round(performance.now() - this.#downSince) });
        this.#downSince = null;
      }
    } catch (error) {
      if (this.#downSince === null && isUnavailable(error)) {
        this.#downSince = performance.now();
        this.#log('error', 'the database cannot be reached: requests fail with UNAVAILABLE until it is back', {
          error: String((error as Error).message ?? error),
        });
      }
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#checking;
  }
}

import { randomUUID } from 'node:crypto';
import pg from 'pg';

export const EVENTS_CHANNEL = 'flowledger_events';
/** Shown in pg_stat_activity, so operators (and tests) can find the listening connection. */
export const LISTENER_APPLICATION_NAME = 'flowledger-listener';
/** Ends each notification this process sends (after `@`): its own appends need no read of the log to be known here. */
export const THIS_PROCESS = randomUUID().slice(0, 8);

/**
 * A dedicated connection that LISTENs for appended events and calls `wake` on each
 * notification, with the aggregate type appended to and whether this process appended it. It is only a wake-up signal: when the
 * connection dies it reconnects after a pause, and wakes once more on reconnecting (with
 * null: any type), as notifications may have been missed.
 */
export class AppendNotifications {
  readonly #connectionString: string;
  readonly #wake: (aggregateType: string | null, fromHere: boolean) => void;
  readonly #retryMs: number;
  #client: pg.Client | undefined;
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;
  #connections = 0;

  constructor(connectionString: string, wake: (aggregateType: string | null, fromHere: boolean) => void, retryMs = 500) {
    this.#connectionString = connectionString;
    this.#wake = wake;
    this.#retryMs = retryMs;
  }

  /** How many times it has connected: more than once means it has recovered from a loss. */
  get connections(): number {
    return this.#connections;
  }

  async start(): Promise<void> {
    await this.#connect();
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#connectionString, application_name: LISTENER_APPLICATION_NAME });
    const lost = () => {
      if (this.#client !== client) return;
      this.#client = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => {});
      this.#scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      const [aggregateType = null, sender] = (message.payload ?? '').split('@');
      this.#wake(aggregateType || null, sender === THIS_PROCESS);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    } catch (error) {
      client.removeAllListeners();
      client.on('error', () => {});
      await client.end().catch(() => {});
      if (this.#connections === 0) throw error;
      this.#scheduleReconnect();
      return;
    }
    if (this.#stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#connections += 1;
    if (this.#connections > 1) this.#wake(null, false);
  }

  #scheduleReconnect(): void {
    if (this.#stopped || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#connect();
    }, this.#retryMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }
}

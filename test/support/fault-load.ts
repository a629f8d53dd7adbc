import { expect } from 'vitest';
import type pg from 'pg';
import { wsClient } from './ws.ts';

/** One answer over HTTP, with its status and how long it took; a failed fetch is status 0. */
export interface Answer {
  readonly status: number;
  readonly ms: number;
  readonly data?: any;
  readonly errors?: { message: string; extensions: Record<string, any> }[];
}

export type Post = (query: string, variables?: Record<string, unknown>) => Promise<Answer>;

/** POSTs to a server as `key`, never throwing: what a client under a fault sees. */
export function poster(url: string, key: string): Post {
  return async (query, variables = {}) => {
    const began = performance.now();
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(60_000),
      });
      const body = (await response.json()) as Omit<Answer, 'status' | 'ms'>;
      return { ...body, status: response.status, ms: performance.now() - began };
    } catch (error) {
      return { status: 0, ms: performance.now() - began, errors: [{ message: String(error), extensions: { code: 'FETCH_FAILED' } }] };
    }
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const codeOf = (answer: Answer) => answer.errors?.[0]?.extensions.code as string | undefined;

/**
 * Writers, each updating its own workflow with expected versions, a pause between writes. What
 * each acknowledged is kept: the version and the description it wrote there.
 */
export function startWriters(post: Post, workflowIds: readonly string[], pauseMs = 200) {
  let stopped = false;
  const acked = new Map<string, Map<number, string>>(workflowIds.map((id) => [id, new Map()]));
  const failures: { at: number; status: number; code: string | undefined; ms: number }[] = [];
  let lastSuccess = 0;
  const loops = workflowIds.map(async (id, index) => {
    let version = 1;
    for (let n = 0; !stopped; n += 1) {
      const description = `writer ${index} write ${n}`;
      const answer = await post(
        'mutation($id: ID!, $v: Int!, $d: String!) { updateWorkflow(input: { id: $id, expectedVersion: $v, description: $d }) { version } }',
        { id, v: version, d: description },
      );
      if (answer.data?.updateWorkflow) {
        version = answer.data.updateWorkflow.version;
        acked.get(id)!.set(version, description);
        lastSuccess = Date.now();
      } else {
        failures.push({ at: Date.now(), status: answer.status, code: codeOf(answer), ms: answer.ms });
        // A write whose commit was lost may have landed: the stream says where it is now.
        if (codeOf(answer) === 'VERSION_CONFLICT') version = answer.errors![0]!.extensions.actualVersion;
      }
      await sleep(pauseMs);
    }
  });
  return {
    acked,
    failures,
    /** When a write last succeeded (epoch ms). */
    lastSuccess: () => lastSuccess,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/**
 * Subscribers of one workflow's events each, over WebSocket, that resume from their last
 * cursor whenever their subscription ends or their connection drops: what each received, in order.
 */
export async function startSubscribers(url: string, key: string, workflowIds: readonly string[], perWorkflow: number) {
  let stopped = false;
  const subscribers = workflowIds.flatMap((id) =>
    Array.from({ length: perWorkflow }, () => ({ id, versions: [] as number[], cursor: null as string | null, resumed: 0 })),
  );
  const clients = Array.from({ length: Math.ceil(subscribers.length / 50) }, () =>
    wsClient(url, key, { retryAttempts: Infinity, retryWait: async () => void (await sleep(200)), shouldRetry: () => true }),
  );
  const caughtUp: Promise<void>[] = [];
  const loops = subscribers.map((subscriber, index) => {
    let markCaughtUp!: () => void;
    caughtUp.push(new Promise((resolve) => (markCaughtUp = resolve)));
    return (async () => {
      while (!stopped) {
        const iterator = clients[index % clients.length]!.iterate({
          query:
            'subscription($id: ID!, $after: String) { events(aggregateType: WORKFLOW, aggregateId: $id, after: $after) { cursor caughtUp event { version } } }',
          variables: { id: subscriber.id, after: subscriber.cursor },
        });
        try {
          for await (const result of iterator) {
            if (stopped) break;
            const item = (result.data as any)?.events;
            if (!item) break;
            subscriber.cursor = item.cursor;
            if (item.event) subscriber.versions.push(item.event.version);
            else markCaughtUp();
          }
        } catch {
          // The connection dropped: the client reconnects, and the loop resumes from the cursor.
        }
        if (!stopped) {
          subscriber.resumed += 1;
          await sleep(200);
        }
      }
    })();
  });
  await Promise.all(caughtUp);
  return {
    subscribers,
    /** Waits until every subscriber has its workflow's events up to `versions` (by workflow id). */
    async until(versions: ReadonlyMap<string, number>, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (subscribers.some((subscriber) => (subscriber.versions.at(-1) ?? 1) < versions.get(subscriber.id)!)) {
        if (Date.now() > deadline) throw new Error('subscribers did not get every event in time');
        await sleep(100);
      }
    },
    async stop() {
      stopped = true;
      await Promise.all(clients.map((client) => client.dispose()));
      await Promise.all(loops);
    },
  };
}

/** Every stream's events are numbered 1..version without a gap, and each read model row is at its stream's version. */
export async function expectWholeStreams(db: pg.Pool): Promise<void> {
  const { rows: gaps } = await db.query(
    `SELECT s.aggregate_type, s.aggregate_id, s.version, count(e.*)::int AS events, coalesce(max(e.version), 0) AS last
     FROM streams s LEFT JOIN events e ON e.aggregate_type = s.aggregate_type AND e.aggregate_id = s.aggregate_id
     GROUP BY s.aggregate_type, s.aggregate_id, s.version HAVING count(e.*) <> s.version OR coalesce(max(e.version), 0) <> s.version`,
  );
  expect(gaps).toEqual([]);
  const { rows: behind } = await db.query(
    `SELECT w.id FROM workflows w JOIN streams s ON s.aggregate_type = 'Workflow' AND s.aggregate_id = w.id WHERE w.version <> s.version
     UNION ALL SELECT x.id FROM executions x JOIN streams s ON s.aggregate_type = 'Execution' AND s.aggregate_id = x.id WHERE x.version <> s.version`,
  );
  expect(behind).toEqual([]);
}

/** What the writers had acknowledged is stored, each write at the version it was told. */
export async function expectAcknowledgedStored(db: pg.Pool, acked: ReadonlyMap<string, ReadonlyMap<number, string>>): Promise<void> {
  for (const [id, writes] of acked) {
    const { rows } = await db.query<{ version: number; description: string }>(
      `SELECT version, data->>'description' AS description FROM events WHERE aggregate_type = 'Workflow' AND aggregate_id = $1 AND version > 1 ORDER BY version`,
      [id],
    );
    const stored = new Map(rows.map((row) => [row.version, row.description]));
    for (const [version, description] of writes) expect(stored.get(version), `${id} v${version}`).toBe(description);
  }
}

/**
 * Each subscriber got its workflow's versions once each, in order, to the last. It subscribed
 * from the live head just after the workflow was made, so it starts at its creation or the
 * write after it.
 */
export function expectNoGapNoRepeat(
  subscribers: readonly { id: string; versions: readonly number[] }[],
  finals: ReadonlyMap<string, number>,
): void {
  for (const { id, versions } of subscribers) {
    const first = versions[0] === 1 ? 1 : 2;
    expect(versions, id).toEqual(Array.from({ length: finals.get(id)! - first + 1 }, (_, i) => first + i));
  }
}

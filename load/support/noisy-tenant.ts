import { parentPort, workerData } from 'node:worker_threads';
import { createWorkflow, ENDED, executionStatus, startExecution } from './operations.ts';
import { targetAt, type Target } from './target.ts';

// The noisy workspace of `npm run bench:isolation`, in a thread of its own: the worst load its
// quotas allow, until the main thread says stop; then its counts.
const { url, key, parts, noisyRuns, heavyReaders } = workerData as {
  url: string;
  key: string;
  parts: string[];
  noisyRuns: number;
  heavyReaders: number;
};
const PARTS = new Set(parts);
const counts = { stepRuns: 0, conditionRuns: 0, heavyReads: 0, heavyReadsRefused: 0, smallQueries: 0, rateLimited: 0 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let stopped = false;

const server = targetAt(url, key);
/** It spends its whole request rate: a refused request waits its Retry-After and goes again. */
const noisy: Target = {
  ...server,
  async gql(query, variables) {
    for (;;) {
      try {
        return await server.gql(query, variables);
      } catch (error) {
        if (!String(error).includes('RATE_LIMITED')) throw error;
        counts.rateLimited += 1;
        await sleep(1000);
      }
    }
  },
};

const burner = await createWorkflow(noisy, {
  startAt: 'Each',
  nodes: {
    Each: {
      type: 'map',
      itemsPath: '$.items',
      maxConcurrency: 10,
      iterator: { startAt: 'Echo', nodes: { Echo: { type: 'task', action: 'transform', input: { at: '$' }, end: true } } },
      end: true,
    },
  },
});
const costly = 'data.words.all(w, (w + w + w + w + w + w + w + w).size() > 7 && w.startsWith("word"))';
const thinker = await createWorkflow(noisy, {
  startAt: 'Both',
  nodes: {
    Both: {
      type: 'parallel',
      branches: Array.from({ length: 20 }, () => ({
        startAt: 'Check',
        nodes: {
          Check: { type: 'choice', cases: [{ condition: costly, next: 'Done' }], default: 'Done' },
          Done: { type: 'task', action: 'transform', input: { ok: true }, resultPath: '$', end: true },
        },
      })),
      end: true,
    },
  },
});
const sleeper = await createWorkflow(noisy, {
  startAt: 'Each',
  nodes: {
    Each: {
      type: 'map',
      itemsPath: '$.items',
      maxConcurrency: 100,
      iterator: { startAt: 'Nap', nodes: { Nap: { type: 'task', action: 'sleep', input: { ms: 3_600_000 }, end: true } } },
      end: true,
    },
  },
});
const waiter = await createWorkflow(noisy, { startAt: 'Pause', nodes: { Pause: { type: 'wait', ms: 86_400_000, end: true } } });
if (PARTS.has('waits')) {
  await startExecution(noisy, sleeper, { items: Array.from({ length: 100 }, (_, i) => i) });
  for (let n = 0; n < 50; n += 1) await startExecution(noisy, waiter);
}
const items = Array.from({ length: 1000 }, (_, i) => i);
const words = Array.from({ length: 15_000 }, (_, i) => `word${i}`);
// A long execution for the heavy readers to replay.
const longRun = await startExecution(noisy, burner, { items });

const keep = async (count: number, work: () => Promise<void>) => {
  await Promise.all(
    Array.from({ length: count }, async () => {
      while (!stopped) await work().catch(() => sleep(50));
    }),
  );
};
/** Whether the execution ended before the load stopped. */
const untilEnded = async (id: string) => {
  while (!stopped) {
    if (ENDED.includes(await executionStatus(noisy, id))) return true;
    await sleep(500);
  }
  return false;
};
const heavyRead = JSON.stringify({
  query: `query($id: ID!) {
    a: replay(aggregateType: EXECUTION, aggregateId: $id) { state events(first: 100) { edges { node { data } } } }
    b: eventLog(first: 100) { edges { node { data } } }
  }`,
  variables: { id: longRun },
});
const part = (name: string, run: () => Promise<void>) => (PARTS.has(name) ? run() : Promise.resolve());
const load = Promise.all([
  part('budget', () =>
    keep(noisyRuns, async () => {
      if (await untilEnded(await startExecution(noisy, burner, { items }))) counts.stepRuns += 1;
    }),
  ),
  part('conditions', () =>
    keep(4, async () => {
      if (await untilEnded(await startExecution(noisy, thinker, { words }))) counts.conditionRuns += 1;
    }),
  ),
  part('reads', () =>
    keep(heavyReaders, async () => {
      const answer = await (await noisy.post(heavyRead)).text();
      if (/"code":"(OVERLOADED|RESPONSE_TOO_LARGE|RATE_LIMITED)"/.test(answer)) {
        counts.heavyReadsRefused += 1;
        await sleep(200);
      } else counts.heavyReads += 1;
    }),
  ),
  part('queries', () =>
    keep(8, async () => {
      await noisy.gql('{ me { name } }');
      counts.smallQueries += 1;
    }),
  ),
]);
parentPort!.postMessage('started');
parentPort!.once('message', async () => {
  stopped = true;
  await load;
  parentPort!.postMessage(counts);
});

import { execFileSync, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { subscribe, type RawSubscriber } from './subscriber.ts';

export interface FanOutResult {
  readonly deliveries: number;
  readonly drainSeconds: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly missed: number;
  readonly repeated: number;
}

/** Subscribers that are all caught up; `finish` waits for the appended ids and counts. */
export interface Subscribers {
  finish(appended: readonly string[]): Promise<FanOutResult>;
}

/**
 * `count` subscribers of `query`, each on its own socket: in this process (Node's ws), or with
 * `client: 'go'` in a Go process (load/fanout-client, built on first use), which spends far
 * less of the machine's CPU per message.
 */
export function startSubscribers(
  client: 'node' | 'go',
  wsUrl: string,
  key: string,
  query: string,
  count: number,
  expected: number,
): Promise<Subscribers> {
  return client === 'go' ? goSubscribers(wsUrl, key, query, count) : nodeSubscribers(wsUrl, key, query, count, expected);
}

const DRAIN_IDLE_MS = 5000;

async function nodeSubscribers(wsUrl: string, key: string, query: string, count: number, expected: number): Promise<Subscribers> {
  // Bookkeeping in fixed memory: a load generator that grows a heap of millions of entries
  // measures its own garbage-collection pauses, not the server.
  const index = new Map<string, number>();
  const counts = Array.from({ length: count }, () => new Uint8Array(expected + 1));
  const histogram = new Uint32Array(60_001); // 1 ms buckets; the last holds everything slower
  let deliveries = 0;
  const percentile = (p: number) => {
    const rank = Math.ceil((p / 100) * deliveries);
    for (let ms = 0, seen = 0; ms < histogram.length; ms += 1) {
      seen += histogram[ms]!;
      if (seen >= rank) return ms;
    }
    return NaN;
  };
  const subscribers: RawSubscriber[] = [];
  for (let i = 0; i < count; i += 1) {
    const seen = counts[i]!;
    subscribers.push(
      subscribe(wsUrl, key, query, (event, receivedAt) => {
        let n = index.get(event.aggregateId);
        if (n === undefined) index.set(event.aggregateId, (n = Math.min(index.size, expected)));
        seen[n] = Math.min(seen[n]! + 1, 255);
        histogram[Math.min(Math.max(receivedAt - Date.parse(event.createdAt), 0), 60_000)]! += 1;
        deliveries += 1;
      }),
    );
    if (i % 100 === 99) await Promise.all(subscribers.slice(-100).map((s) => s.ready));
  }
  await Promise.all(subscribers.map((s) => s.ready));
  return {
    async finish(appended) {
      // Late is not lost: wait until every subscriber has everything, or nothing arrives for 5 s.
      const started = Date.now();
      for (let last = deliveries, idleSince = started; deliveries < appended.length * count && Date.now() - idleSince < DRAIN_IDLE_MS;) {
        await new Promise((done) => setTimeout(done, 50));
        if (deliveries !== last) [last, idleSince] = [deliveries, Date.now()];
      }
      let missed = 0;
      let repeated = 0;
      for (const seen of counts) {
        for (const id of appended) {
          const n = index.get(id);
          const times = n === undefined ? 0 : seen[n]!;
          if (times === 0) missed += 1;
          else repeated += times - 1;
        }
      }
      for (const s of subscribers) s.socket.terminate();
      return {
        deliveries,
        drainSeconds: (Date.now() - started) / 1000,
        p50Ms: percentile(50),
        p95Ms: percentile(95),
        p99Ms: percentile(99),
        maxMs: percentile(100),
        missed,
        repeated,
      };
    },
  };
}

async function goSubscribers(wsUrl: string, key: string, query: string, count: number): Promise<Subscribers> {
  const source = resolve(import.meta.dirname, '../fanout-client');
  const binary = resolve(source, 'fanout-client');
  execFileSync('go', ['build', '-o', binary, '.'], { cwd: source, stdio: 'inherit' });
  const child = spawn(binary, ['-url', wsUrl, '-key', key, '-n', String(count), '-query', query], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const line = async () => {
    const next = await lines.next();
    if (next.done) throw new Error('the Go subscribers stopped early');
    return next.value;
  };
  if ((await line()) !== 'ready') throw new Error('the Go subscribers did not get ready');
  return {
    async finish(appended) {
      child.stdin.end(`${appended.join('\n')}\n`);
      return JSON.parse(await line()) as FanOutResult;
    },
  };
}

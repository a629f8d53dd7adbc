import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';

const LIST = '{ workflows(first: 20) { edges { node { name } } } }';
const CREATE = `mutation($name: String!) { createWorkflow(input: { name: $name, definition: { startAt: "Done", nodes: { Done: { type: "succeed" } } } }) { id } }`;

let app: TestApp;
let small: TestApp;
let off: TestApp;
beforeAll(async () => {
  [app, small, off] = await Promise.all([
    startTestApp(),
    startTestApp({ responseCacheBytes: 20_000 }),
    startTestApp({ responseCacheBytes: 0 }),
  ]);
});
afterAll(async () => Promise.all([app, small, off].map((started) => started?.close())));

async function read(on: TestApp, query: string) {
  const response = await on.post(JSON.stringify({ query }), { authorization: `Bearer ${on.keys.editor}` });
  const body = await response.json();
  return { cache: response.headers.get('flowledger-cache'), names: body.data?.workflows?.edges.map((edge: any) => edge.node.name), body };
}

/**
 * Holds the next read of a workflow page after it has read its rows, until `release`: the rows
 * are those of before whatever happens meanwhile.
 */
function holdNextPage(on: TestApp) {
  const workflows = on.services.workflows;
  const page = workflows.page.bind(workflows);
  let release!: () => void;
  let reached!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const read = new Promise<void>((resolve) => (reached = resolve));
  workflows.page = async (...args) => {
    workflows.page = page;
    const rows = await page(...args);
    reached();
    await released;
    return rows;
  };
  return { read, release };
}

describe('the response cache under races', () => {
  it('never keeps an answer read before a write that was invalidated while it was computed', async () => {
    await app.gql(CREATE, { name: 'old' });
    const held = holdNextPage(app);
    const stale = read(app, LIST);
    await held.read;
    const refused = app.services.responseCache!.stats().refusedStale;
    await app.gql(CREATE, { name: 'new' });
    held.release();
    // The held read began before the write: its answer may miss it, but is not kept.
    expect((await stale).names).toEqual(['old']);
    expect(app.services.responseCache!.stats().refusedStale).toBe(refused + 1);
    const next = await read(app, LIST);
    expect(next.cache).toBe('miss');
    expect(next.names).toEqual(['new', 'old']);
  });

  it('never lets a request that began after a write join a computation that began before it', async () => {
    // A query of its own, so that the held read is a miss.
    const query = LIST.replace('20', '19');
    const held = holdNextPage(app);
    const first = read(app, query);
    await held.read;
    await app.gql(CREATE, { name: 'newest' });
    const second = read(app, query);
    const answered = await Promise.race([
      second,
      sleep(5000).then(() => {
        throw new Error('the later read waited for the earlier one');
      }),
    ]);
    expect(answered.cache).toBe('miss');
    expect(answered.names[0]).toBe('newest');
    held.release();
    expect((await first).names[0]).not.toBe('newest');
  });

  it('stays under its byte bound under a flood of distinct queries', async () => {
    await small.gql(CREATE, { name: 'x'.repeat(100) });
    const cache = small.services.responseCache!;
    let highest = 0;
    for (let i = 1; i <= 300; i++) {
      await read(
        small,
        `{ workflows(first: ${(i % 100) + 1}) { edges { node { name${' id'.repeat(i % 7)} } } } a${i}: workflows(first: 1) { totalCount } }`,
      );
      highest = Math.max(highest, cache.stats().bytes);
    }
    expect(highest).toBeGreaterThan(10_000);
    expect(highest).toBeLessThanOrEqual(20_000);
    expect(cache.stats().entries).toBeLessThan(300);
    const metrics = await (await fetch(small.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/flowledger_response_cache\{[^}]*state="bytes"[^}]*\} \d+/);
    expect(metrics).toMatch(/flowledger_response_cache\{[^}]*state="misses"[^}]*\} 300\n/);
  });

  it('is not there when RESPONSE_CACHE_BYTES is 0: every answer is computed', async () => {
    expect(off.services.responseCache).toBeNull();
    await off.gql(CREATE, { name: 'uncached' });
    expect((await read(off, LIST)).cache).toBeNull();
    expect((await read(off, LIST)).names).toEqual(['uncached']);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBulkhead } from '../src/runtime/bulkhead.ts';
import { startTestApp, type TestApp } from './support/app.ts';

describe('the heavy-read bulkhead', () => {
  it('runs at most its concurrency, queues up to its bound, refuses the rest at once', async () => {
    const bulkhead = createBulkhead(2, 1);
    let running = 0;
    let peak = 0;
    const gates: (() => void)[] = [];
    const work = () =>
      bulkhead(async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => gates.push(resolve));
        running -= 1;
        return 'done';
      });
    const accepted = [work(), work(), work()];
    await expect(work()).rejects.toMatchObject({ code: 'OVERLOADED' });
    expect(bulkhead.stats()).toEqual({ active: 2, queued: 1, rejected: 1 });
    while (gates.length > 0 || running > 0) {
      gates.splice(0).forEach((release) => release());
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(await Promise.all(accepted)).toEqual(['done', 'done', 'done']);
    expect(peak).toBe(2);
  });
});

describe('OVERLOADED over HTTP', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ heavyReadConcurrency: 1, heavyReadQueue: 0 });
  });
  afterAll(() => app.close());

  it('fails replay and log reads at once while the bound is full, and serves them after', async () => {
    const { data } = await app.gql('mutation { createWorkflow(input: { name: "w", definition: { startAt: "Done", nodes: { Done: { type: "succeed" } } } }) { id } }');
    const id = data!.createWorkflow.id;
    let release!: () => void;
    const occupied = app.services.heavyReads(() => new Promise<void>((resolve) => (release = resolve)));
    const queries = [
      ['{ eventLog { edges { cursor } } }', {}],
      ['query($id: ID!) { replay(aggregateType: WORKFLOW, aggregateId: $id) { version } }', { id }],
      ['query($id: ID!) { events(aggregateType: WORKFLOW, aggregateId: $id) { edges { cursor } } }', { id }],
    ] as const;
    for (const [query, variables] of queries) {
      const refused = await app.gql(query, variables);
      expect(refused.errors?.[0]?.extensions.code).toBe('OVERLOADED');
    }
    release();
    await occupied;
    for (const [query, variables] of queries) {
      expect((await app.gql(query, variables)).errors).toBeUndefined();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBulkhead } from '../src/runtime/bulkhead.ts';
import { startTestApp, type TestApp } from './support/app.ts';

describe('the heavy-read bulkhead', () => {
  it('runs at most its concurrency and queues up to its bound, a workspace at most half of each; refuses the rest at once', async () => {
    const bulkhead = createBulkhead(4, 2);
    const running = new Map<string, number>();
    let peak = 0;
    const gates: (() => void)[] = [];
    const work = (workspace: string) =>
      bulkhead(workspace, async () => {
        running.set(workspace, (running.get(workspace) ?? 0) + 1);
        peak = Math.max(peak, running.get(workspace)!);
        await new Promise<void>((resolve) => gates.push(resolve));
        running.set(workspace, running.get(workspace)! - 1);
        return workspace;
      });
    // One workspace takes its half of the places and of the queue, and no more, however much it asks.
    const accepted = [work('a'), work('a'), work('a')];
    await expect(work('a')).rejects.toMatchObject({ code: 'OVERLOADED' });
    expect(bulkhead.stats()).toEqual({ active: 2, queued: 1, rejected: 1 });
    // Another finds room beside it.
    accepted.push(work('b'), work('b'), work('b'));
    expect(bulkhead.stats()).toEqual({ active: 4, queued: 2, rejected: 1 });
    await expect(work('c')).rejects.toMatchObject({ code: 'OVERLOADED' });
    while (gates.length > 0 || [...running.values()].some((count) => count > 0)) {
      gates.splice(0).forEach((release) => release());
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(await Promise.all(accepted)).toEqual(['a', 'a', 'a', 'b', 'b', 'b']);
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
    const { data } = await app.gql(
      'mutation { createWorkflow(input: { name: "w", definition: { startAt: "Done", nodes: { Done: { type: "succeed" } } } }) { id } }',
    );
    const id = data!.createWorkflow.id;
    let release!: () => void;
    const occupied = app.services.heavyReads(app.workspaceId, () => new Promise<void>((resolve) => (release = resolve)));
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

import { describe, expect, it } from 'vitest';
import { FairLimit } from './fair-limit.ts';

/** A task that runs until released, and records when it started. */
function gate(order: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { work: () => (order.push(name), done), release };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('FairLimit', () => {
  it("keeps one key to its share, so another key's task starts at once", async () => {
    const limit = new FairLimit(4, 2);
    const order: string[] = [];
    const a = Array.from({ length: 6 }, (_, i) => gate(order, `a${i}`));
    const running = a.map((task) => limit.run('a', task.work));
    const b = gate(order, 'b0');
    const other = limit.run('b', b.work);
    await turn();
    expect(order).toEqual(['a0', 'a1', 'b0']);
    expect([limit.active, limit.pending, limit.activeOf('a')]).toEqual([3, 4, 2]);
    b.release();
    for (const task of a) task.release();
    await Promise.all([other, ...running]);
    expect(order).toEqual(['a0', 'a1', 'b0', 'a2', 'a3', 'a4', 'a5']);
  });

  it('serves waiting keys in turn, however many tasks one of them queued', async () => {
    const limit = new FairLimit(1, 1);
    const order: string[] = [];
    const tasks = ['a0', 'a1', 'a2', 'a3', 'b0', 'b1', 'c0'].map((name) => ({ name, ...gate(order, name) }));
    const runs = tasks.map((task) => limit.run(task.name[0]!, task.work));
    for (let released = 0; released < tasks.length; released += 1) {
      await turn();
      tasks.find((candidate) => candidate.name === order.at(-1))!.release();
    }
    await Promise.all(runs);
    expect(order).toEqual(['a0', 'b0', 'c0', 'a1', 'b1', 'a2', 'a3']);
  });

  it('lets a task that has not started leave the queue when its signal aborts', async () => {
    const limit = new FairLimit(1, 1);
    const order: string[] = [];
    const first = gate(order, 'first');
    const running = limit.run('a', first.work);
    const stop = new AbortController();
    const queued = limit.run('b', gate(order, 'never').work, stop.signal);
    stop.abort(new Error('stopped'));
    await expect(queued).rejects.toThrow('stopped');
    expect(limit.pending).toBe(0);
    first.release();
    await running;
    expect(order).toEqual(['first']);
  });
});

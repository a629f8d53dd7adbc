import { describe, expect, it } from 'vitest';
import { toPollable } from './pollable.ts';

/** An async iterator whose next() answers with the given outcomes, one per call. */
function iteratorOf(outcomes: (IteratorResult<number> | Error)[]) {
  const calls = { next: 0, return: 0 };
  const iterator: AsyncIterator<number> = {
    next: async () => {
      const outcome = outcomes[calls.next++]!;
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
    return: async () => {
      calls.return += 1;
      return { done: true, value: undefined };
    },
  };
  return { iterator, calls };
}

const woken = (stream: { onReadable(listener: () => void): void }) => new Promise<void>((resolve) => stream.onReadable(resolve));

describe('toPollable', () => {
  it('asks for one step at a time, and hands it over once it has arrived', async () => {
    const { iterator, calls } = iteratorOf([
      { done: false, value: 1 },
      { done: true, value: undefined },
    ]);
    const stream = toPollable(iterator);
    const arrived = woken(stream);
    expect(stream.poll()).toBeUndefined();
    expect(stream.poll()).toBeUndefined();
    expect(calls.next).toBe(1);
    await arrived;
    expect(stream.poll()).toEqual({ done: false, value: 1 });
    const ended = woken(stream);
    expect(stream.poll()).toBeUndefined();
    await ended;
    expect(stream.poll()).toEqual({ done: true, value: undefined });
  });

  it('throws a failed step from poll, every time after it, and passes return on', async () => {
    const failure = new Error('the source failed');
    const { iterator, calls } = iteratorOf([failure]);
    const stream = toPollable(iterator);
    const arrived = woken(stream);
    expect(stream.poll()).toBeUndefined();
    await arrived;
    expect(() => stream.poll()).toThrow(failure);
    expect(() => stream.poll()).toThrow(failure);
    expect(calls.next).toBe(1);
    await stream.return();
    expect(calls.return).toBe(1);
  });
});

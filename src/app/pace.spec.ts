import { describe, expect, it } from 'vitest';
import { AppError } from '../domain/errors.ts';
import { Pace } from './pace.ts';

const refusal = (promise: Promise<void>) =>
  promise.then(
    () => null,
    (error: AppError) => error,
  );

describe('Pace', () => {
  it("lets a second's worth go at once, then makes the workspace's next callers wait for what was taken", async () => {
    const pace = new Pace('steps', 60_000);
    for (let n = 0; n < 10; n += 1) await pace.take('a', 1, 10);
    const began = performance.now();
    await pace.take('a', 1, 10);
    expect(performance.now() - began).toBeGreaterThanOrEqual(90);
  });

  it('refuses a wait past its longest with RATE_LIMITED and when to retry, and takes nothing then', async () => {
    const pace = new Pace('read rate', 1000);
    pace.charge('a', 5000, 1000);
    const error = await refusal(pace.turn('a', 1000));
    expect(error).toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: 4 } });
    expect(error!.message).toBe('this workspace has used its read rate for now: retry in 4 s');
    expect(await refusal(pace.take('a', 10_000, 1000))).toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: 14 } });
    // The refused take took nothing: the wait is still about four seconds, not fourteen.
    expect(await refusal(pace.turn('a', 1000))).toMatchObject({ details: { retryAfterSeconds: 4 } });
  });

  it('keeps each workspace to its own allowance', async () => {
    const pace = new Pace('steps', 0);
    pace.charge('a', 100, 10);
    expect(await refusal(pace.turn('a', 10))).toMatchObject({ code: 'RATE_LIMITED' });
    expect(await refusal(pace.turn('b', 10))).toBeNull();
    expect(await refusal(pace.take('b', 10, 10))).toBeNull();
  });

  it('ends a wait when its signal aborts, giving back what it took', async () => {
    const pace = new Pace('steps', 20_000);
    pace.charge('a', 5, 1);
    const controller = new AbortController();
    const waiting = pace.take('a', 10, 1, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    // Four seconds are owed, not fourteen: a take of twenty would wait twenty-four.
    expect(await refusal(pace.take('a', 20, 1))).toMatchObject({ details: { retryAfterSeconds: 24 } });
  });
});

import { describe, expect, it } from 'vitest';
import { catchRule, retryDelay } from './retry.ts';

const timeout = { name: 'Timeout', message: 'slow' };
const http = { name: 'HttpError', message: '503' };

describe('retry delays', () => {
  const rules = [{ errors: ['Timeout'], maxAttempts: 4, intervalMs: 100, backoffRate: 3, maxDelayMs: 500 }];

  it('grow by the backoff rate, capped by maxDelayMs, until maxAttempts attempts in all', () => {
    expect([1, 2, 3].map((attempt) => retryDelay(rules, timeout, attempt, 0.5))).toEqual([100, 300, 500]);
    expect(retryDelay(rules, timeout, 4, 0.5)).toBeNull();
  });

  it('apply only to matching errors; "*" matches any; the first matching rule decides', () => {
    expect(retryDelay(rules, http, 1, 0.5)).toBeNull();
    expect(retryDelay(undefined, http, 1, 0.5)).toBeNull();
    expect(
      retryDelay(
        [
          { errors: ['HttpError'], maxAttempts: 1 },
          { errors: ['*'], maxAttempts: 5 },
        ],
        http,
        1,
        0.5,
      ),
    ).toBeNull();
    expect(retryDelay([{ errors: ['*'], maxAttempts: 2 }], http, 1, 0.5)).toBe(1000);
  });

  it('wait at most an hour without maxDelayMs', () => {
    expect(retryDelay([{ errors: ['*'], maxAttempts: 10, intervalMs: 3_600_000, backoffRate: 10 }], http, 3, 0.5)).toBe(3_600_000);
  });

  it('draw between 0 and the delay with jitter', () => {
    const jittered = [{ ...rules[0]!, jitter: true }];
    expect(retryDelay(jittered, timeout, 2, 0)).toBe(0);
    expect(retryDelay(jittered, timeout, 2, 0.5)).toBe(150);
  });
});

describe('catch rules', () => {
  it('pick the first rule that matches', () => {
    const rules = [
      { errors: ['Timeout'], next: 'A' },
      { errors: ['*'], next: 'B' },
    ];
    expect(catchRule(rules, timeout)?.next).toBe('A');
    expect(catchRule(rules, http)?.next).toBe('B');
    expect(catchRule(undefined, http)).toBeUndefined();
  });
});

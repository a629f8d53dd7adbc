import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.ts';
import type { Aggregate } from '../aggregate.ts';
import { DeciderSpecification } from './decider-specification.ts';

type CounterEvent = { type: 'Added'; data: { by: number } };
/** A counter that refuses to go past 2: enough to see the spec pass and fail. */
const counter: Aggregate<number, { add: number }, CounterEvent> = {
  type: 'Counter',
  initialState: 0,
  decide: ({ add }, total) => {
    if (total + add > 2) throw new AppError('QUOTA_EXCEEDED', 'past 2', { limit: 2, total });
    return [{ type: 'Added', data: { by: add } }];
  },
  evolve: (total, event) => total + event.data.by,
};
const spec = DeciderSpecification.for(counter);
const added = (by: number): CounterEvent => ({ type: 'Added', data: { by } });

describe('DeciderSpecification', () => {
  it('passes when the command decides the events, or throws the code and fields, after the given events', () => {
    spec
      .given([added(1)])
      .when({ add: 1 })
      .then([added(1)]);
    spec
      .given([added(1), added(1)])
      .when({ add: 1 })
      .thenThrows('QUOTA_EXCEEDED', { details: { limit: 2 } });
  });

  it('fails on other events, another code or field, and on a command that is not refused', () => {
    expect(() =>
      spec
        .given([])
        .when({ add: 1 })
        .then([added(2)]),
    ).toThrow();
    expect(() =>
      spec
        .given([added(2)])
        .when({ add: 1 })
        .thenThrows('NOT_FOUND'),
    ).toThrow();
    expect(() =>
      spec
        .given([added(2)])
        .when({ add: 1 })
        .thenThrows('QUOTA_EXCEEDED', { details: { limit: 3 } }),
    ).toThrow();
    expect(() => spec.given([]).when({ add: 1 }).thenThrows('QUOTA_EXCEEDED')).toThrow(/expected a refusal, but it decided/);
    expect(() => spec.given([]).when({ add: 1 }).thenFails(/past/)).toThrow(/expected a refusal/);
    expect(() =>
      spec
        .given([added(2)])
        .when({ add: 1 })
        .thenFails(/before/),
    ).toThrow();
    spec
      .given([added(2)])
      .when({ add: 1 })
      .thenFails(/past 2/);
  });
});

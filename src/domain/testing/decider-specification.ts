import { deepStrictEqual, fail, match } from 'node:assert/strict';
import { fold, type Aggregate, type DomainEvent, type FoldableEvent } from '../aggregate.ts';

/** Who recorded the given events, and where: what evolve reads from an envelope. */
export const SPEC_ACTOR = '0190a000-0000-7000-8000-0000000000aa';
export const SPEC_WORKSPACE = '0190a000-0000-7000-8000-0000000000ff';

/** Events as the store would hold them: numbered from 1, a minute apart from 2026-01-01, by SPEC_ACTOR. */
export function stored(events: readonly DomainEvent[]): FoldableEvent[] {
  return events.map((event, index) => ({
    ...event,
    version: index + 1,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, index)),
    metadata: { actorId: SPEC_ACTOR, workspaceId: SPEC_WORKSPACE },
  }));
}

/** What of `actual` `expected` names, key by key into plain objects: the error's fields a spec asks about. */
function subset(actual: unknown, expected: unknown): unknown {
  if (typeof expected !== 'object' || expected === null || Array.isArray(expected) || typeof actual !== 'object' || actual === null)
    return actual;
  return Object.fromEntries(Object.entries(expected).map(([key, value]) => [key, subset((actual as Record<string, unknown>)[key], value)]));
}

export interface Then<Event extends DomainEvent> {
  /** The command decides exactly these events. */
  then(expected: readonly Event[]): void;
  /** The command is refused with this error code, and these of the error's fields when given. */
  thenThrows(code: string, fields?: Record<string, unknown>): void;
  /** The command fails with a message like this one (an invariant broken, not a user's mistake). */
  thenFails(message: RegExp): void;
}

/**
 * Given these events, when this command, then these events or this error: a decider spec in
 * one line, after Emmett's DeciderSpecification. Pure: it folds the given events with the
 * aggregate's evolve and asks its decide, with no store.
 *
 *   const spec = DeciderSpecification.for(workflowAggregate);
 *   spec.given([created]).when(rename).then([{ type: 'WorkflowUpdated', data: { name } }]);
 */
export const DeciderSpecification = {
  for<State, Command, Event extends DomainEvent>(aggregate: Aggregate<State, Command, Event>) {
    return {
      given(events: readonly Event[]) {
        return {
          when(command: Command): Then<Event> {
            const decide = () => aggregate.decide(command, fold(aggregate, stored(events)));
            const refusal = (): unknown => {
              let decided: readonly Event[];
              try {
                decided = decide();
              } catch (error) {
                return error;
              }
              return fail(`expected a refusal, but it decided ${JSON.stringify(decided)}`);
            };
            return {
              // oxlint-disable-next-line unicorn/no-thenable -- a spec's last step, never awaited: given/when/then as in Emmett
              then(expected) {
                deepStrictEqual(decide(), expected);
              },
              thenThrows(code, fields = {}) {
                deepStrictEqual(subset(refusal(), { code, ...fields }), { code, ...fields });
              },
              thenFails(message) {
                match(String((refusal() as Error).message), message);
              },
            };
          },
        };
      },
    };
  },
};

// The contract every event-sourced aggregate meets. decide and evolve are pure: all I/O
// happens in the application layer around them.

export interface DomainEvent<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
}

/** What evolve needs to know about a stored event beyond its type and data. */
export interface EventEnvelope {
  readonly version: number;
  readonly createdAt: Date;
  readonly metadata: { readonly actorId: string | null; readonly workspaceId: string };
}

export interface Aggregate<State, Command, Event extends DomainEvent> {
  /** The aggregate type recorded on its events. */
  readonly type: string;
  readonly initialState: State;
  decide(command: Command, state: State): readonly Event[];
  evolve(state: State, event: Event, envelope: EventEnvelope): State;
  /** The same as evolve event by event, done faster: for aggregates whose state grows with their stream. */
  evolveAll?(state: State, events: readonly { event: Event; envelope: EventEnvelope }[]): State;
}

/** What folding needs of a stored event: its type and data, and its envelope. */
export interface FoldableEvent extends EventEnvelope {
  readonly type: string;
  readonly data: unknown;
}

/** Folds stored events into state: the one path for command handling, replay and rebuilds. */
export function fold<State, Event extends DomainEvent>(
  aggregate: Pick<Aggregate<State, never, Event>, 'initialState' | 'evolve' | 'evolveAll'>,
  events: readonly FoldableEvent[],
  state: State = aggregate.initialState,
): State {
  if (aggregate.evolveAll)
    return aggregate.evolveAll(
      state,
      events.map((event) => ({ event: event as unknown as Event, envelope: event })),
    );
  return events.reduce((current, event) => aggregate.evolve(current, event as unknown as Event, event), state);
}

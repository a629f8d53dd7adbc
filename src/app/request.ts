import type { Actor } from '../domain/identity/roles.ts';
import type { EventMetadata, LogPosition } from '../store/event-store.ts';

/** Who is asking and under which request: what every event's metadata is made from. */
export interface RequestScope {
  readonly actor: Actor;
  readonly requestId: string;
  readonly correlationId: string;
  readonly causationId?: string | undefined;
  /** Told where in the log each write of the request landed: its answer carries the last (a consistency token). */
  readonly wrote?: ((position: LogPosition) => void) | undefined;
}

export function metadataFor(scope: RequestScope): EventMetadata {
  return {
    workspaceId: scope.actor.workspaceId,
    actorId: scope.actor.userId,
    requestId: scope.requestId,
    correlationId: scope.correlationId,
    causationId: scope.causationId ?? scope.requestId,
  };
}

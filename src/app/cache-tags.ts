import type { StoredEvent } from '../store/event-store.ts';

// What a kept answer depends on, named by workspace, so that one workspace's events reach only
// its own answers. An event changes its aggregate, the lists of its type, and the log.

export const aggregateTag = (workspaceId: string, type: string, id: string) => `${workspaceId}|${type}|${id}`;
export const listTag = (workspaceId: string, type: string) => `${workspaceId}|${type}|*`;
export const logTag = (workspaceId: string) => `${workspaceId}|log`;

/** The tags an event invalidates. */
export const tagsOfEvent = (event: Pick<StoredEvent, 'workspaceId' | 'aggregateType' | 'aggregateId'>): string[] => [
  aggregateTag(event.workspaceId, event.aggregateType, event.aggregateId),
  listTag(event.workspaceId, event.aggregateType),
  logTag(event.workspaceId),
];

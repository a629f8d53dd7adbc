/**
 * The actions a task may name. The execution engine registers one function per name; the
 * definition validator refuses any other name before a workflow is stored.
 */
export const BUILT_IN_ACTIONS = ['http.request', 'transform', 'sleep', 'log', 'fail'] as const;

export type ActionName = (typeof BUILT_IN_ACTIONS)[number];

export function isAction(name: string): name is ActionName {
  return (BUILT_IN_ACTIONS as readonly string[]).includes(name);
}

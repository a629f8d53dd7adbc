// The shape of a workflow definition, as validated (definition.ts) and run (engine/interpreter.ts).

export interface RetryRule {
  readonly errors: readonly string[];
  /** Attempts in all, the first one included. */
  readonly maxAttempts: number;
  readonly intervalMs?: number;
  readonly backoffRate?: number;
  readonly maxDelayMs?: number;
  readonly jitter?: boolean;
}

export interface CatchRule {
  readonly errors: readonly string[];
  readonly resultPath?: string;
  readonly next: string;
}

interface Common {
  readonly maxVisits?: number;
}

/** Nodes that go on to `next`, or end their graph. */
interface Flowing extends Common {
  readonly next?: string;
  readonly end?: true;
}

export interface TaskNode extends Flowing {
  readonly type: 'task';
  readonly action: string;
  readonly input?: Readonly<Record<string, unknown>>;
  readonly resultPath?: string;
  readonly timeoutMs?: number;
  readonly retry?: readonly RetryRule[];
  readonly catch?: readonly CatchRule[];
}
export interface ChoiceNode extends Common {
  readonly type: 'choice';
  readonly cases: readonly { readonly condition: string; readonly next: string }[];
  readonly default: string;
}
export interface MapNode extends Flowing {
  readonly type: 'map';
  readonly itemsPath: string;
  readonly iterator: Graph;
  readonly maxConcurrency?: number;
  readonly resultPath?: string;
}
export interface ParallelNode extends Flowing {
  readonly type: 'parallel';
  readonly branches: readonly Graph[];
  readonly maxConcurrency?: number;
  readonly resultPath?: string;
}
export interface WaitNode extends Flowing {
  readonly type: 'wait';
  readonly ms: number;
}
export interface SucceedNode extends Common {
  readonly type: 'succeed';
  readonly outputPath?: string;
}
export interface FailNode extends Common {
  readonly type: 'fail';
  readonly error: string;
  readonly cause?: string;
}
export type Node = TaskNode | ChoiceNode | MapNode | ParallelNode | WaitNode | SucceedNode | FailNode;

export interface Graph {
  readonly startAt: string;
  readonly nodes: Readonly<Record<string, Node>>;
}

/** A validated definition: the types above hold for every node, at every depth. */
export interface Definition extends Graph {
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** The whole execution's deadline. */
  readonly timeoutMs?: number;
}

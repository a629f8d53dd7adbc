import type { Execution, ExecutionStatus } from '../generated/prisma/client.ts';
import type { Database } from './database.ts';

/** Which of a workspace's executions a page is about, newest first; `take` < 0 pages backwards from `cursor`. */
export interface ExecutionPageQuery {
  readonly workspaceId: string;
  readonly workflowId?: string | undefined;
  readonly status?: ExecutionStatus | undefined;
  readonly take: number;
  /** An id: the page starts after it (or ends before it, backwards). */
  readonly cursor?: string | undefined;
}

/** An execution's JSON columns, read only when asked for (they may be large). */
export type ExecutionJson = 'input' | 'output';

/**
 * Rows are read without their JSON columns, which may be large, and stand in for whole rows:
 * an answer charges their stored sizes, then loads them (`json`).
 */
const LIGHT = { omit: { input: true, output: true } } as const;

/** The executions read model (Prisma), always within one workspace. */
export class ExecutionRows {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async visible(workspaceId: string, id: string): Promise<Execution | null> {
    return (await this.#db.prisma.execution.findFirst({ ...LIGHT, where: { id, workspaceId } })) as Execution | null;
  }

  async page({ workspaceId, workflowId, status, take, cursor }: ExecutionPageQuery): Promise<Execution[]> {
    const backward = take < 0;
    const rows = await this.#db.prisma.execution.findMany({
      ...LIGHT,
      where: {
        workspaceId,
        ...(workflowId === undefined ? {} : { workflowId }),
        ...(status === undefined ? {} : { status }),
        ...(cursor === undefined ? {} : { id: backward ? { gt: cursor } : { lt: cursor } }),
      },
      orderBy: { id: backward ? 'asc' : 'desc' },
      take: Math.abs(take),
    });
    return (backward ? rows.reverse() : rows) as Execution[];
  }

  /** One JSON column of these executions, by id (null for an id not of this workspace). */
  async json(workspaceId: string, ids: readonly string[], column: ExecutionJson): Promise<unknown[]> {
    const rows = (await this.#db.prisma.execution.findMany({
      where: { id: { in: [...ids] }, workspaceId },
      select: { id: true, [column]: true },
    })) as unknown as Record<string, unknown>[];
    const found = new Map<unknown, unknown>(rows.map((row) => [row.id, row[column]]));
    return ids.map((id) => found.get(id) ?? null);
  }
}

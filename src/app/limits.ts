import { LRUCache } from 'lru-cache';
import { checkOverrides, effectiveLimits, type WorkspaceLimits } from '../domain/workspaces/limits.ts';
import { notFound } from '../domain/errors.ts';
import type { Database } from '../store/database.ts';
import { isUuid } from './ids.ts';

/** How long a workspace's limits are trusted without a lookup: a change reaches every process within it. */
const CACHE_MS = 5000;

/**
 * Each workspace's budgets and quotas: the process's defaults (from its settings), with the
 * workspace's overrides over them. Overrides are set by operators (`npm run admin -- set-limits`),
 * never through the API: a workspace's admin is a tenant, and may not raise its own share.
 */
export class Limits {
  readonly #db: Database;
  readonly defaults: WorkspaceLimits;
  readonly #cache: LRUCache<string, WorkspaceLimits>;

  constructor(db: Database, defaults: WorkspaceLimits) {
    this.#db = db;
    this.defaults = defaults;
    this.#cache = new LRUCache({ max: 10_000, ttl: CACHE_MS, fetchMethod: (workspaceId) => this.#read(workspaceId) });
  }

  /** The limits in force for a workspace (the defaults for one that does not exist). */
  async of(workspaceId: string): Promise<WorkspaceLimits> {
    return (await this.#cache.fetch(workspaceId)) ?? this.defaults;
  }

  /** Replaces a workspace's overrides (an empty object: the defaults again); returns the limits now in force. */
  async set(workspaceId: string, overrides: unknown): Promise<WorkspaceLimits> {
    const checked = checkOverrides(overrides);
    const { count } = isUuid(workspaceId)
      ? await this.#db.prisma.workspace.updateMany({ where: { id: workspaceId }, data: { limits: checked } })
      : { count: 0 };
    if (count === 0) throw notFound('workspace', workspaceId);
    this.#cache.delete(workspaceId);
    return effectiveLimits(this.defaults, checked);
  }

  async #read(workspaceId: string): Promise<WorkspaceLimits> {
    const workspace = isUuid(workspaceId)
      ? await this.#db.prisma.workspace.findUnique({ where: { id: workspaceId }, select: { limits: true } })
      : null;
    return effectiveLimits(this.defaults, workspace?.limits ?? {});
  }
}

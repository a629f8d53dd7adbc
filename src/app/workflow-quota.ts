/**
 * Whether a create must count its workspace's workflows in its own statement (the exact
 * quota check, projectWorkflow): only near the quota. Counting costs a scan of the
 * workspace's workflows, which on every create of a large workspace was most of what the
 * database did. Further away than `margin` a process counts at most once per `trustMs` (a second
 * by default) and adds its own creates; so the quota can be passed only by a workspace that
 * creates more than the margin in that time on other processes.
 */
export class WorkflowQuota {
  readonly #count: (workspaceId: string) => Promise<number>;
  readonly #trustMs: number;
  readonly #known = new Map<string, { count: number; at: number; counting?: Promise<number> }>();

  /** `trustMs`: how long a count is trusted, with this process's creates added to it. */
  constructor(count: (workspaceId: string) => Promise<number>, trustMs = 1000) {
    this.#count = count;
    this.#trustMs = trustMs;
  }

  /** The quota a create's statement must check: Infinity when the workspace is surely far below it. */
  async toCheck(workspaceId: string, quota: number): Promise<number> {
    if (quota === Infinity) return quota;
    const margin = Math.max(1000, quota / 10);
    let known = this.#known.get(workspaceId);
    if (!known || performance.now() - known.at > this.#trustMs) {
      if (this.#known.size > 10_000) this.#known.clear();
      const entry = known ?? { count: 0, at: 0 };
      entry.counting ??= this.#count(workspaceId).then(
        (count) => {
          Object.assign(entry, { count, at: performance.now(), counting: undefined });
          return count;
        },
        (error: unknown) => {
          entry.counting = undefined;
          throw error;
        },
      );
      this.#known.set(workspaceId, entry);
      await entry.counting;
      known = entry;
    }
    return known.count + margin < quota ? Infinity : quota;
  }

  /** A create of this process committed: counted until the next count. */
  created(workspaceId: string): void {
    const known = this.#known.get(workspaceId);
    if (known) known.count += 1;
  }
}

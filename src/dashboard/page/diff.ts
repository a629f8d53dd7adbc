/** One difference between two JSON values, at a path such as `nodes.Fetch.retry[0]`. */
export interface Change {
  readonly path: string;
  readonly kind: 'added' | 'removed' | 'changed';
  readonly before?: unknown;
  readonly after?: unknown;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const join = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

/** The changes that turn `before` into `after`: leaves that differ, objects and lists walked by key and index. */
export function diff(before: unknown, after: unknown, path = '', changes: Change[] = []): Change[] {
  if (isObject(before) && isObject(after)) {
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      const at = join(path, key);
      if (!(key in after)) changes.push({ path: at, kind: 'removed', before: before[key] });
      else if (!(key in before)) changes.push({ path: at, kind: 'added', after: after[key] });
      else diff(before[key], after[key], at, changes);
    }
  } else if (Array.isArray(before) && Array.isArray(after)) {
    for (let index = 0; index < Math.max(before.length, after.length); index += 1) {
      const at = join(path, index);
      if (index >= after.length) changes.push({ path: at, kind: 'removed', before: before[index] });
      else if (index >= before.length) changes.push({ path: at, kind: 'added', after: after[index] });
      else diff(before[index], after[index], at, changes);
    }
  } else if (JSON.stringify(before) !== JSON.stringify(after)) {
    // A replay's state is null before the aggregate's first event.
    changes.push({ path: path || '(state)', kind: before === null ? 'added' : after === null ? 'removed' : 'changed', before, after });
  }
  return changes;
}

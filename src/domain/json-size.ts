/**
 * The size of a value as JSON, in UTF-8 bytes, as JSON.stringify would write it, counted up to
 * `limit`: past it, the count stops and a number over the limit is returned. The text is never
 * built. A value whose parts are shared (a task input reading the same large string from the
 * data four thousand times) is as large as its text would be, and that text could take the
 * process's memory or pass the longest string a process can hold; counting stops long before.
 */
export function jsonSize(value: unknown, limit = Infinity): number {
  let size = 0;
  const visit = (current: unknown): void => {
    if (size > limit) return;
    if (current !== null && typeof current === 'object' && typeof (current as { toJSON?: unknown }).toJSON === 'function') {
      current = (current as { toJSON(): unknown }).toJSON();
    }
    switch (typeof current) {
      case 'string':
        size += Buffer.byteLength(JSON.stringify(current));
        return;
      case 'number':
        size += Number.isFinite(current) ? String(current).length : 4;
        return;
      case 'boolean':
        size += current ? 4 : 5;
        return;
      case 'object':
        break;
      default:
        // undefined, functions and symbols: null in a list, left out of an object (below).
        size += 4;
        return;
    }
    if (current === null) {
      size += 4;
      return;
    }
    if (Array.isArray(current)) {
      size += 2 + Math.max(0, current.length - 1);
      for (const item of current) {
        visit(item);
        if (size > limit) return;
      }
      return;
    }
    size += 2;
    let first = true;
    for (const [key, item] of Object.entries(current)) {
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
      size += (first ? 0 : 1) + Buffer.byteLength(JSON.stringify(key)) + 1;
      first = false;
      visit(item);
      if (size > limit) return;
    }
  };
  visit(value);
  return size;
}

// An execution's data is JSON. Definitions point into it with paths such as $.order.items[0]
// (validated by the PATH pattern); these functions resolve them, with no evaluation.

export class DataPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataPathError';
  }
}

function steps(path: string): (string | number)[] {
  return [...path.slice(1).matchAll(/\.([A-Za-z_]\w*)|\[(\d+)\]/g)].map((m) => (m[1] !== undefined ? m[1] : Number(m[2])));
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The value at a path; a DataPathError when a step is missing. */
export function readPath(data: unknown, path: string): unknown {
  let current = data;
  for (const step of steps(path)) {
    const holds =
      typeof step === 'number' ? Array.isArray(current) && step < current.length : isRecord(current) && Object.hasOwn(current, step);
    if (!holds) throw new DataPathError(`${path} does not exist in the data`);
    current = (current as Record<string | number, unknown>)[step];
  }
  return current;
}

/** A copy of data with value at path (`$` replaces the whole); missing objects on the way are created. */
export function writePath(data: unknown, path: string, value: unknown): unknown {
  const write = (current: unknown, rest: (string | number)[]): unknown => {
    if (rest.length === 0) return value;
    const [step, ...tail] = rest as [string | number, ...(string | number)[]];
    if (typeof step === 'number') {
      if (!Array.isArray(current) || step > current.length) throw new DataPathError(`${path}: no list to write index ${step} into`);
      const copy = [...current];
      copy[step] = write(current[step], tail);
      return copy;
    }
    if (current !== undefined && !isRecord(current))
      throw new DataPathError(`${path}: cannot write field ${step} into a ${typeof current}`);
    return { ...current, [step]: write(current?.[step], tail) };
  };
  return write(data, steps(path));
}

/** A task's input: strings starting with $ are paths into the data, everything else literal. */
export function buildInput(template: unknown, data: unknown): unknown {
  if (typeof template === 'string') return template.startsWith('$') ? readPath(data, template) : template;
  if (Array.isArray(template)) return template.map((item) => buildInput(item, data));
  if (isRecord(template)) return Object.fromEntries(Object.entries(template).map(([key, value]) => [key, buildInput(value, data)]));
  return template;
}

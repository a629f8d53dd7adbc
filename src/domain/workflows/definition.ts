import { badInput, refuseNul } from '../errors.ts';

// The execution engine gives definitions their grammar later; until then a definition is
// any JSON object within a size limit.

export type Definition = Readonly<Record<string, unknown>>;

export function validateDefinition(value: unknown, maxBytes: number): Definition {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badInput('definition', 'must be a JSON object');
  }
  refuseNul(value, 'definition');
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > maxBytes) {
    throw badInput('definition', `is ${bytes} bytes, more than the limit of ${maxBytes}`);
  }
  return value as Definition;
}

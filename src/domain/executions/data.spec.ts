import { describe, expect, it } from 'vitest';
import { DataPathError, buildInput, readPath, writePath } from './data.ts';

const data = { order: { items: [{ sku: 'a' }, { sku: 'b' }], total: 3 }, name: 'Ada' };

describe('data paths', () => {
  it('reads fields and list indexes, and refuses what is not there', () => {
    expect(readPath(data, '$')).toBe(data);
    expect(readPath(data, '$.order.items[1].sku')).toBe('b');
    expect(() => readPath(data, '$.order.items[2]')).toThrow(DataPathError);
    expect(() => readPath(data, '$.name.length')).toThrow(/\$\.name\.length does not exist/);
    expect(() => readPath(data, '$.constructor')).toThrow(DataPathError);
  });

  it('writes into a copy, creating objects on the way; $ replaces the whole', () => {
    const written = writePath(data, '$.result.status', 200) as Record<string, unknown>;
    expect(written).toEqual({ ...data, result: { status: 200 } });
    expect(data).not.toHaveProperty('result');
    expect(writePath(data, '$.order.items[0]', 'x')).toMatchObject({ order: { items: ['x', { sku: 'b' }] } });
    expect(writePath(data, '$', 1)).toBe(1);
    expect(() => writePath(data, '$.name.first', 'x')).toThrow(/cannot write field first into a string/);
    expect(() => writePath(data, '$.order.items[5]', 'x')).toThrow(DataPathError);
  });

  it('builds an input from literals and paths, at any depth', () => {
    expect(buildInput({ who: '$.name', fixed: 'literal', nested: ['$.order.total', { sku: '$.order.items[0].sku' }], n: 1 }, data)).toEqual(
      {
        who: 'Ada',
        fixed: 'literal',
        nested: [3, { sku: 'a' }],
        n: 1,
      },
    );
  });
});

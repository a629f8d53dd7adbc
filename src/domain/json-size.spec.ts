import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonSize } from './json-size.ts';

describe('jsonSize', () => {
  it('is the byte length of JSON.stringify, for any JSON value and the values it leaves out or turns to null', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(jsonSize(value)).toBe(Buffer.byteLength(JSON.stringify(value)));
      }),
      { numRuns: 500 },
    );
    const odd = { a: undefined, b: [undefined, () => 1, NaN, -0, Infinity], c: new Date(0), 'é"\n': 'ü\u2028' };
    expect(jsonSize(odd)).toBe(Buffer.byteLength(JSON.stringify(odd)));
  });

  it('stops past its limit without building the text: a value of shared parts far larger than a string can be', () => {
    const large = 'x'.repeat(200_000);
    const shared = Object.fromEntries(Array.from({ length: 4000 }, (_, i) => [`a${i}`, large]));
    expect(() => JSON.stringify(shared)).toThrow(RangeError);
    const size = jsonSize(shared, 8192);
    expect(size).toBeGreaterThan(8192);
    expect(size).toBeLessThan(8192 + 200_100);
    expect(jsonSize({ small: true }, 8192)).toBe(14);
  });
});

import { describe, expect, it } from 'vitest';
import { diff } from './diff.ts';

describe('diff', () => {
  it('names each leaf that changed, was added or was removed, by its path', () => {
    const before = { name: 'a', nodes: { A: { next: 'B' }, B: { type: 'succeed' } }, tags: [1, 2] };
    const after = { name: 'b', nodes: { A: { next: 'C' }, C: { type: 'succeed' } }, tags: [1], owner: 'ada' };
    expect(diff(before, after)).toEqual([
      { path: 'name', kind: 'changed', before: 'a', after: 'b' },
      { path: 'nodes.A.next', kind: 'changed', before: 'B', after: 'C' },
      { path: 'nodes.B', kind: 'removed', before: { type: 'succeed' } },
      { path: 'nodes.C', kind: 'added', after: { type: 'succeed' } },
      { path: 'tags[1]', kind: 'removed', before: 2 },
      { path: 'owner', kind: 'added', after: 'ada' },
    ]);
  });

  it('finds nothing between equal values, and the whole state when there was none before', () => {
    expect(diff({ a: [1, { b: null }] }, { a: [1, { b: null }] })).toEqual([]);
    expect(diff(null, { a: 1 })).toEqual([{ path: '(state)', kind: 'added', before: null, after: { a: 1 } }]);
    expect(diff({ a: 1 }, [1])).toEqual([{ path: '(state)', kind: 'changed', before: { a: 1 }, after: [1] }]);
  });
});

import { LRUCache } from 'lru-cache';
import { describe, expect, it } from 'vitest';
import { stateCacheOptions } from './state-cache.ts';

describe('stateCacheOptions', () => {
  it('bounds a cache by the JSON size of its states, and keeps none larger than the bound', () => {
    const cache = new LRUCache<string, { state: unknown }>(stateCacheOptions(10, 100));
    cache.set('huge', { state: { output: 'x'.repeat(200) } });
    expect(cache.has('huge')).toBe(false);
    for (const key of ['a', 'b', 'c', 'd']) cache.set(key, { state: { output: 'x'.repeat(30) } });
    // Four states of about 43 characters do not fit in 100: the oldest ones make room.
    expect([...cache.keys()]).toEqual(['d', 'c']);
    cache.set('null', { state: null });
    expect(cache.has('null')).toBe(true);
  });
});

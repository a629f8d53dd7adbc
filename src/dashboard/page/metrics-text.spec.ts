import { describe, expect, it } from 'vitest';
import { byState, parseMetrics } from './metrics-text.ts';

describe('parseMetrics', () => {
  it('reads samples with their labels and skips comments', () => {
    const text = [
      '# HELP flowledger_live_subscriptions Live-log subscriptions',
      '# TYPE flowledger_live_subscriptions gauge',
      'flowledger_live_subscriptions{state="open",pid="7"} 3',
      'flowledger_live_subscriptions{state="catching_up",pid="7"} 0',
      'flowledger_database_up{pid="7"} 1',
      'flowledger_build_info{version="a \\"quoted\\" one"} 1',
      '',
    ].join('\n');
    const samples = parseMetrics(text);
    expect(samples).toHaveLength(4);
    expect(byState(samples, 'flowledger_live_subscriptions')).toEqual([
      ['open', 3],
      ['catching_up', 0],
    ]);
    expect(samples[2]).toEqual({ name: 'flowledger_database_up', labels: { pid: '7' }, value: 1 });
    expect(samples[3]!.labels.version).toBe('a "quoted" one');
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startTestApp, type TestApp } from './support/app.ts';
import { ROOT } from './support/processes.ts';
import {
  analysePromQL,
  analyseVariableQuery,
  parseExposition,
  legendLabels,
  alertLabels,
  type Catalogue,
  type Schema,
} from './support/promql.ts';

/**
 * docs/ops: the Grafana dashboard and the Prometheus rules, checked against what a real server's
 * /metrics exports, so that a renamed metric, label or state breaks this test rather than a
 * panel or an alert, silently.
 */

interface Target {
  readonly refId?: string;
  readonly expr?: string;
  readonly legendFormat?: string;
  readonly datasource?: { type?: string; uid?: string };
}
interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly gridPos: { h: number; w: number; x: number; y: number };
  readonly datasource?: { type?: string; uid?: string };
  readonly targets?: Target[];
  readonly fieldConfig?: { defaults?: { unit?: string } };
  readonly panels?: Panel[];
}
interface Variable {
  readonly name: string;
  readonly type: string;
  readonly query: string | { query: string };
}
interface Dashboard {
  readonly schemaVersion: number;
  readonly uid: string;
  readonly title: string;
  readonly panels: Panel[];
  readonly templating: { list: Variable[] };
}
interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}
interface RuleFile {
  readonly groups: { name: string; rules: Rule[] }[];
}

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const dashboard = JSON.parse(read('docs/ops/grafana-dashboard.json')) as Dashboard;
const rules = parse(read('docs/ops/alerts.yml')) as RuleFile;
const runbook = read('docs/ops/README.md');
const alerts = rules.groups.flatMap((group) => group.rules.filter((rule) => rule.alert !== undefined));
/** Every panel, those inside collapsed rows too. */
const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
const queryPanels = panels.filter((panel) => panel.type !== 'row');

/** Labels Prometheus puts on every scraped series. */
const TARGET_LABELS = ['instance', 'job'];
/** Labels a query must not depend on: a replaced process changes them. */
const PROCESS_LABELS = ['pid', 'worker'];
const SEVERITIES = ['critical', 'warning', 'info'];

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
const headings = (markdown: string) => {
  let fenced = false;
  const found: string[] = [];
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) found.push(anchor(heading[1]!));
  }
  return found;
};

/** The error codes README.md's table documents: codes a scrape shows only once they happened. */
const documentedCodes = () => {
  const readme = read('README.md');
  const table = readme.slice(readme.indexOf('### Errors'), readme.indexOf('\n### ', readme.indexOf('### Errors') + 1));
  return new Set(
    table
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => [...line.split('|')[1]!.matchAll(/`([A-Z_]+)`/g)].map((match) => match[1]!)),
  );
};

let app: TestApp;
let scrape: string;
let exported: Catalogue;
let schema: Schema;

beforeAll(async () => {
  app = await startTestApp({ metricsToken: 'scrape-me' });
  // A request and an error, so that the histogram and the errors counter have series; a
  // collection, so that the garbage-collection histogram has one.
  expect((await app.gql('{ me { id } }')).errors).toBeUndefined();
  const refused = await app.gql('{ workflows(first: 1000) { edges { cursor } } }');
  expect(refused.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const response = await fetch(app.url.replace('/graphql', '/metrics'), { headers: { authorization: 'Bearer scrape-me' } });
  expect(response.status).toBe(200);
  scrape = await response.text();
  exported = parseExposition(scrape);
  schema = {
    exported,
    targetLabels: TARGET_LABELS,
    external: new Map([['up', TARGET_LABELS]]),
    closedLabels: ['state'],
    knownValues: new Map([['code', documentedCodes()]]),
  };
});
afterAll(() => app?.close());

/** Each query of the dashboard and the rules, with where it is. */
const panelQueries = () =>
  queryPanels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ where: `panel ${panel.id} "${panel.title}" ${target.refId}`, target })),
  );
const variableQuery = (variable: Variable) => (typeof variable.query === 'string' ? variable.query : variable.query.query);

describe('the scrape', () => {
  it('has what the checks read: histogram buckets with le, errors by code, states, the pid on build_info alone', () => {
    const labelsOf = (name: string) => [...(exported.get(name)?.keys() ?? [])].sort();
    expect(labelsOf('flowledger_graphql_request_duration_seconds_bucket')).toEqual(['le', 'operation']);
    expect(labelsOf('flowledger_graphql_request_duration_seconds_count')).toEqual(['operation']);
    expect(labelsOf('flowledger_graphql_errors_total')).toEqual(['code']);
    expect(exported.get('flowledger_graphql_errors_total')!.get('code')).toContain('BAD_USER_INPUT');
    expect(exported.get('flowledger_db_pool_connections')!.get('state')).toEqual(
      new Set(['total', 'idle', 'waiting_clients', 'write_total', 'write_idle', 'write_waiting_clients']),
    );
    expect(labelsOf('flowledger_database_up')).toEqual([]);
    expect(labelsOf('flowledger_nodejs_gc_duration_seconds_sum')).toEqual(['kind']);
    expect(labelsOf('flowledger_build_info')).toEqual(['pid', 'version']);
    expect(documentedCodes()).toContain('INTERNAL_SERVER_ERROR');
  });
});

describe('the Grafana dashboard', () => {
  it('names only metrics, labels and states the server exports', () => {
    const problems = panelQueries().flatMap(({ where, target }) =>
      analysePromQL(target.expr!, schema).problems.map((problem) => `${where}: ${problem}`),
    );
    expect(problems).toEqual([]);
  });

  it('has legends that name labels their query keeps', () => {
    const problems = panelQueries().flatMap(({ where, target }) => {
      const { output } = analysePromQL(target.expr!, schema);
      return legendLabels(target.legendFormat ?? '')
        .filter((label) => output !== null && !output.has(label))
        .map((label) => `${where}: legend {{${label}}} is not a label of the query's result`);
    });
    expect(problems).toEqual([]);
  });

  it('has template variables over exported labels: a Prometheus data source, a job and an instance', () => {
    const variables = dashboard.templating.list;
    expect(variables.find((variable) => variable.name === 'DS_PROMETHEUS')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const name of ['job', 'instance']) expect(variables.find((variable) => variable.name === name)?.type).toBe('query');
    const problems = variables
      .filter((variable) => variable.type === 'query')
      .flatMap((variable) =>
        analyseVariableQuery(variableQuery(variable), schema).problems.map((problem) => `$${variable.name}: ${problem}`),
      );
    expect(problems).toEqual([]);
  });

  it('has panels with unique ids, a place on the grid, a unit, and queries on the templated data source', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    const ids = panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(queryPanels.length).toBeGreaterThan(20);
    for (const panel of panels) {
      const { h, w, x, y } = panel.gridPos;
      expect([h, w, x, y].every(Number.isInteger) && h > 0 && w > 0 && x >= 0 && y >= 0 && x + w <= 24, panel.title).toBe(true);
    }
    for (const panel of queryPanels) {
      expect(panel.fieldConfig?.defaults?.unit, panel.title).toMatch(/\S/);
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${DS_PROMETHEUS}' });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      const refIds = panel.targets!.map((target) => target.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
      for (const target of panel.targets!) expect(target.expr?.trim(), panel.title).toBeTruthy();
    }
    // No two panels on the same cells: Grafana would move one, and the layout with it.
    const cells = new Map<string, string>();
    for (const panel of panels) {
      const { h, w, x, y } = panel.gridPos;
      for (let row = y; row < y + h; row += 1)
        for (let column = x; column < x + w; column += 1) {
          const cell = `${row},${column}`;
          expect(cells.get(cell), `${panel.title} overlaps ${cells.get(cell)}`).toBeUndefined();
          cells.set(cell, panel.title);
        }
    }
  });

  it('shows every metric of the server but those it leaves out on purpose', () => {
    const shown = new Set(panelQueries().flatMap(({ target }) => analysePromQL(target.expr!, schema).metrics));
    const ours = [...exported.keys()].filter((name) => !/^flowledger_(process|nodejs)_/.test(name) && !name.endsWith('_sum'));
    expect(ours.filter((name) => !shown.has(name))).toEqual([]);
  });
});

describe('the Prometheus rules', () => {
  it('name only metrics, labels and states the server exports', () => {
    const problems = alerts.flatMap((rule) => analysePromQL(rule.expr, schema).problems.map((problem) => `${rule.alert}: ${problem}`));
    expect(problems).toEqual([]);
  });

  it('have annotations that name labels their expression keeps', () => {
    const problems = alerts.flatMap((rule) => {
      const { output } = analysePromQL(rule.expr, schema);
      return Object.entries(rule.annotations ?? {}).flatMap(([name, text]) =>
        alertLabels(text)
          .filter((label) => output !== null && !output.has(label))
          .map((label) => `${rule.alert} ${name}: $labels.${label} is not a label of the alert`),
      );
    });
    expect(problems).toEqual([]);
  });

  it('each have a severity, a for, a summary, a description and a runbook section in docs/ops/README.md', () => {
    const sections = headings(runbook);
    expect(alerts.length).toBeGreaterThan(10);
    const names = alerts.map((rule) => rule.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const rule of alerts) {
      expect(rule.alert).toMatch(/^Flowledger[A-Z]\w+$/);
      expect(SEVERITIES, rule.alert).toContain(rule.labels?.severity);
      expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
      expect(rule.annotations?.summary, rule.alert).toMatch(/\S/);
      expect(rule.annotations?.description, rule.alert).toMatch(/\S/);
      const [path, section] = (rule.annotations?.runbook_url ?? '').split('#');
      expect(path, rule.alert).toBe('docs/ops/README.md');
      expect(sections, `${rule.alert}: #${section}`).toContain(section);
    }
  });
});

describe('queries, everywhere', () => {
  it('add up processes rather than name them (no pid, no worker)', () => {
    const queries = [
      ...panelQueries().map(({ where, target }) => ({ where, expr: target.expr! })),
      ...dashboard.templating.list.filter((v) => v.type === 'query').map((v) => ({ where: `$${v.name}`, expr: variableQuery(v) })),
      ...alerts.map((rule) => ({ where: rule.alert!, expr: rule.expr })),
    ];
    const named = queries.flatMap(({ where, expr }) => {
      const labels = expr.startsWith('label_values') ? analyseVariableQuery(expr, schema).labels : analysePromQL(expr, schema).labels;
      return labels.filter((label) => PROCESS_LABELS.includes(label)).map((label) => `${where}: ${label}`);
    });
    expect(named).toEqual([]);
  });
});

describe('the checker', () => {
  const problems = (expr: string) => analysePromQL(expr, schema).problems;

  it('reports a metric, a label, a state, a grouping or a join the server does not have', () => {
    expect(problems('sum(rate(flowledger_graphql_errorz_total[5m]))')).toEqual([
      'the metric flowledger_graphql_errorz_total is not exported',
    ]);
    expect(problems('flowledger_db_pool_connections{status="idle"}')).toEqual(['flowledger_db_pool_connections has no label status']);
    expect(problems('flowledger_db_pool_connections{state="write_waiting"}')).toEqual([
      'flowledger_db_pool_connections{state} never has the value write_waiting',
    ]);
    expect(problems('sum(flowledger_heavy_reads{state=~"active|rejected"})')).toEqual([
      'flowledger_heavy_reads{state} never has the value rejected',
    ]);
    expect(problems('flowledger_graphql_errors_total{code="INTERNAL_EROR"}')).toEqual([
      'flowledger_graphql_errors_total{code} never has the value INTERNAL_EROR',
    ]);
    expect(problems('sum by (operation) (rate(flowledger_graphql_errors_total[5m]))')).toEqual([
      'sum by (operation): no series of flowledger_graphql_errors_total carries the label operation',
    ]);
    // After an aggregation, only its labels are left.
    expect(problems('sum by (instance) (sum by (state) (flowledger_steps))')).toEqual([
      'sum by (instance): no series of flowledger_steps carries the label instance',
    ]);
    expect(problems('histogram_quantile(0.9, sum by (operation) (rate(flowledger_graphql_request_duration_seconds_bucket[5m])))')).toEqual([
      'histogram_quantile: no series of flowledger_graphql_request_duration_seconds_bucket carries the label le',
    ]);
    expect(problems('flowledger_steps / on (code) flowledger_executions')).toEqual([
      'the left side of / on (code): no series of flowledger_steps carries the label code',
      'the right side of / on (code): no series of flowledger_executions carries the label code',
    ]);
    expect(problems('up{job="x", state="y"}')).toEqual(['up has no label state']);
    expect(problems('ratee(flowledger_steps[5m])')).toEqual(['unknown function ratee']);
    expect(analyseVariableQuery('label_values(flowledger_build_info, operation)', schema).problems).toEqual([
      'label_values: no series of flowledger_build_info carries operation',
    ]);
    expect(() => analysePromQL('sum(rate(flowledger_steps[5m])', schema)).toThrow(/expected \)/);
  });

  it('skips functions, keywords, durations, strings, numbers and Grafana variables', () => {
    const expr = `
      # a comment naming flowledger_nothing
      sum by (job, instance, state) (rate(flowledger_steps{state="in_flight", job=~"$job"}[$__rate_interval] offset 1h30m))
        > bool on (job, instance, state) group_left (version)
      2 * max by (job, instance, state, version) (label_replace(flowledger_build_info @ end(), "state", "in_flight", "", ""))
      or vector(0x1F) unless ignoring (state) -flowledger_steps ^ 2 % 1e3 atan2 Inf
      and sum by (code) (increase(flowledger_graphql_errors_total{code=~'BAD_USER_INPUT|UNAVAILABLE'}[5m:30s]))`;
    const analysis = analysePromQL(expr, schema);
    expect(analysis.problems).toEqual([]);
    expect([...analysis.metrics].sort()).toEqual(['flowledger_build_info', 'flowledger_graphql_errors_total', 'flowledger_steps']);
    expect([...analysis.labels].sort()).toEqual(['code', 'instance', 'job', 'state', 'version']);
    // label_replace's label counts as the series' own; count_values's too.
    expect(problems('sum by (host) (label_replace(flowledger_build_info, "host", "$1", "instance", "([^:]+):.*"))')).toEqual([]);
    expect(analysePromQL('count_values("value", flowledger_database_up)', schema).output).toEqual(new Set(['value']));
    expect(legendLabels('{{operation}} p95 {{ instance }}')).toEqual(['operation', 'instance']);
    expect(alertLabels('{{ $labels.instance }}: {{ $value }} {{ if eq $labels.state "x" }}{{ end }}')).toEqual(['instance', 'state']);
  });

  it('reads the exposition format: escapes in values, histograms declared before their samples', () => {
    const catalogue = parseExposition(
      [
        '# HELP a_seconds A histogram.',
        '# TYPE a_seconds histogram',
        'a_seconds_bucket{le="0.5",path="/a\\"b\\\\c"} 1',
        'a_seconds_bucket{le="+Inf",path="/"} 2 1700000000000',
        'b_total 3',
      ].join('\n'),
    );
    expect([...catalogue.keys()].sort()).toEqual(['a_seconds_bucket', 'a_seconds_count', 'a_seconds_sum', 'b_total']);
    expect(catalogue.get('a_seconds_bucket')!.get('path')).toEqual(new Set(['/a"b\\c', '/']));
    expect(catalogue.get('a_seconds_bucket')!.get('le')).toEqual(new Set(['0.5', '+Inf']));
  });
});

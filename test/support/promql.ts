/**
 * Just enough PromQL to check a dashboard's and a rule file's queries against what a server
 * exports: a scrape's metric names with their label names (and values), and an expression's
 * metric names, the labels it matches, groups and joins on, and the labels its result carries.
 * It is a checker, not an evaluator: types are followed only as far as labels need.
 */

/** A scrape: every sample name (a histogram's `_bucket`, `_sum`, `_count` apart), its labels and their values. */
export type Catalogue = ReadonlyMap<string, ReadonlyMap<string, ReadonlySet<string>>>;

export interface Schema {
  /** What the server exports. */
  readonly exported: Catalogue;
  /** Labels Prometheus adds to every series it scrapes (`instance`, `job`). */
  readonly targetLabels: readonly string[];
  /** Series of Prometheus's own, with their labels (`up`). */
  readonly external?: ReadonlyMap<string, readonly string[]>;
  /** Labels whose every value the scrape shows (`state`): a matcher naming another value is a mistake. */
  readonly closedLabels?: readonly string[];
  /** Further values a label may take, beyond those the scrape shows (error codes not provoked). */
  readonly knownValues?: ReadonlyMap<string, ReadonlySet<string>>;
}

export interface Analysis {
  /** Every metric the expression selects. */
  readonly metrics: readonly string[];
  /** Every label name it uses: in matchers, groupings, joins and label functions. */
  readonly labels: readonly string[];
  /** The labels its result's series may carry (null: unknown, after a problem). */
  readonly output: ReadonlySet<string> | null;
  readonly problems: readonly string[];
}

/** The metrics of a Prometheus text exposition, with the labels (and values) of their samples. */
export function parseExposition(text: string): Map<string, Map<string, Set<string>>> {
  const metrics = new Map<string, Map<string, Set<string>>>();
  const metric = (name: string) => {
    let labels = metrics.get(name);
    if (!labels) metrics.set(name, (labels = new Map()));
    return labels;
  };
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      const [, name, kind] = type as unknown as [string, string, string];
      const parts = kind === 'histogram' ? ['_bucket', '_sum', '_count'] : kind === 'summary' ? ['', '_sum', '_count'] : [''];
      for (const part of parts) metric(name + part);
      continue;
    }
    if (line.startsWith('#') || line.trim() === '') continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+(?:\s+\S+)?$/.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    const labels = metric(sample[1]!);
    for (const [name, value] of labelPairs(sample[2] ?? '')) {
      let values = labels.get(name);
      if (!values) labels.set(name, (values = new Set()));
      values.add(value);
    }
  }
  return metrics;
}

/** `a="x",b="y \"quoted\""` as pairs, its escapes undone. */
function labelPairs(text: string): [string, string][] {
  const pairs: [string, string][] = [];
  const pair = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/y;
  while (pair.lastIndex < text.length) {
    const at = pair.lastIndex;
    const match = pair.exec(text);
    if (!match) throw new Error(`malformed labels at ${at}: ${text}`);
    pairs.push([match[1]!, match[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))]);
  }
  return pairs;
}

// ---------------------------------------------------------------------------------------------
// Tokens

type TokenKind = 'ident' | 'number' | 'string' | 'duration' | 'range' | 'op' | 'punct' | 'end';
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly at: number;
}

const DURATION = /(?:\d+(?:ms|[smhdwy]))+(?![a-zA-Z0-9_])/y;
const NUMBER = /(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?![a-zA-Z0-9_])/y;
const IDENT = /[a-zA-Z_][a-zA-Z0-9_:]*/y;
/** A Grafana variable ($job, ${job}, $__rate_interval): a value Grafana puts in before Prometheus sees the query. */
const VARIABLE = /\$(?:\{[^}]+\}|[a-zA-Z_][a-zA-Z0-9_]*)/y;
const OPERATORS = ['==', '!=', '=~', '!~', '<=', '>=', '<', '>', '=', '+', '-', '*', '/', '%', '^', '@'];
const STEP = String.raw`(?:(?:\d+(?:ms|[smhdwy]))+|\$(?:\{[^}]+\}|[a-zA-Z_][a-zA-Z0-9_]*))`;
const RANGE = new RegExp(String.raw`^\s*${STEP}\s*(?::\s*(?:${STEP})?\s*)?$`);

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  const sticky = (pattern: RegExp) => {
    pattern.lastIndex = at;
    return pattern.exec(source)?.[0];
  };
  while (at < source.length) {
    const c = source[at]!;
    if (/\s/.test(c)) {
      at += 1;
      continue;
    }
    if (c === '#') {
      while (at < source.length && source[at] !== '\n') at += 1;
      continue;
    }
    const push = (kind: TokenKind, text: string, length = text.length) => {
      tokens.push({ kind, text, at });
      at += length;
    };
    if (c === '"' || c === "'" || c === '`') {
      let end = at + 1;
      while (end < source.length && source[end] !== c) end += c !== '`' && source[end] === '\\' ? 2 : 1;
      if (end >= source.length) throw new Error(`unterminated string at ${at}`);
      push('string', source.slice(at + 1, end), end + 1 - at);
      continue;
    }
    if (c === '[') {
      const end = source.indexOf(']', at);
      if (end < 0) throw new Error(`unterminated range at ${at}`);
      const range = source.slice(at + 1, end);
      if (!RANGE.test(range)) throw new Error(`not a range or subquery: [${range}]`);
      push('range', range, end + 1 - at);
      continue;
    }
    const duration = /\d|\./.test(c) ? sticky(DURATION) : undefined;
    const number = duration === undefined && /\d|\./.test(c) ? sticky(NUMBER) : undefined;
    // A Grafana variable stands for a number or a duration here: strings hold the others.
    const variable = c === '$' ? sticky(VARIABLE) : undefined;
    const ident = duration ?? number ?? variable ?? sticky(IDENT);
    if (ident !== undefined) {
      push(duration !== undefined ? 'duration' : number !== undefined || variable !== undefined ? 'number' : 'ident', ident);
      continue;
    }
    const operator = OPERATORS.find((op) => source.startsWith(op, at));
    if (operator) {
      push('op', operator);
      continue;
    }
    if ('(){},:'.includes(c)) {
      push('punct', c);
      continue;
    }
    throw new Error(`unexpected ${JSON.stringify(c)} at ${at}`);
  }
  tokens.push({ kind: 'end', text: '', at });
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Names

const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
/** Aggregations whose result keeps its argument's labels (they pick series rather than merge them). */
const PICKING = new Set(['bottomk', 'topk', 'limitk', 'limit_ratio']);
const FUNCTIONS = new Set(
  (
    'abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp clamp_max clamp_min cos ' +
    'cosh count_over_time day_of_month day_of_week day_of_year days_in_month deg delta deriv double_exponential_smoothing exp ' +
    'floor histogram_avg histogram_count histogram_fraction histogram_quantile histogram_stddev histogram_stdvar histogram_sum ' +
    'holt_winters hour idelta increase info irate label_join label_replace last_over_time ln log10 log2 mad_over_time ' +
    'max_over_time min_over_time minute month pi predict_linear present_over_time quantile_over_time rad rate resets round ' +
    'scalar sgn sin sinh sort sort_by_label sort_by_label_desc sort_desc sqrt stddev_over_time stdvar_over_time ' +
    'sum_over_time tan tanh time timestamp vector year'
  ).split(' '),
);
/** Functions without a series argument, whose result carries no label. */
const LABELLESS = new Set(['vector', 'absent', 'absent_over_time']);
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset']);
const SET_OPERATORS = new Set(['and', 'or', 'unless']);
const PRECEDENCE: Record<string, number> = {
  or: 1,
  and: 2,
  unless: 2,
  '==': 3,
  '!=': 3,
  '<=': 3,
  '>=': 3,
  '<': 3,
  '>': 3,
  '+': 4,
  '-': 4,
  '*': 5,
  '/': 5,
  '%': 5,
  atan2: 5,
  '^': 6,
};

// ---------------------------------------------------------------------------------------------
// Expressions

interface Value {
  readonly kind: 'vector' | 'matrix' | 'scalar' | 'string';
  /** The labels its series may carry; null when unknown (a problem was reported). */
  readonly labels: ReadonlySet<string> | null;
  /** The metrics it was made of, for messages. */
  readonly metrics: readonly string[];
  readonly text?: string;
}

const scalar: Value = { kind: 'scalar', labels: new Set(), metrics: [] };
const union = (a: ReadonlySet<string> | null, b: ReadonlySet<string> | null) => (a && b ? new Set([...a, ...b]) : null);
const seriesOf = (value: Value) => (value.metrics.length > 0 ? value.metrics.join(', ') : 'a value without series');

/** Checks one PromQL expression against a server's metrics. Throws on what is not PromQL at all. */
export function analysePromQL(expr: string, schema: Schema): Analysis {
  const tokens = tokenize(expr);
  let position = 0;
  const metrics = new Set<string>();
  const labels = new Set<string>();
  const problems: string[] = [];
  const targetLabels = new Set(schema.targetLabels);
  const closed = new Set(schema.closedLabels ?? []);

  const peek = () => tokens[position]!;
  const next = () => tokens[position++]!;
  const fail = (message: string): never => {
    throw new Error(`${message} at ${peek().at} in: ${expr}`);
  };
  const accept = (kind: TokenKind, text?: string) => {
    const token = peek();
    if (token.kind !== kind || (text !== undefined && token.text.toLowerCase() !== text)) return undefined;
    position += 1;
    return token;
  };
  const expect = (kind: TokenKind, text?: string) =>
    accept(kind, text) ?? fail(`expected ${text ?? kind}, found ${peek().text || 'the end'}`);

  /** `(a, b)` after by, without, on, ignoring, group_left, group_right. */
  const labelList = (): string[] => {
    expect('punct', '(');
    const names: string[] = [];
    while (!accept('punct', ')')) {
      const name = peek().kind === 'string' ? next().text : expect('ident').text;
      names.push(name);
      labels.add(name);
      if (!accept('punct', ',')) {
        expect('punct', ')');
        break;
      }
    }
    return names;
  };

  /** Reports each of `names` its series do not carry. */
  const carried = (names: readonly string[], value: Value, clause: string) => {
    if (!value.labels) return;
    for (const name of names)
      if (!value.labels.has(name)) problems.push(`${clause}: no series of ${seriesOf(value)} carries the label ${name}`);
  };

  const selector = (name: string | undefined): Value => {
    const matchers: { label: string; op: string; value: string }[] = [];
    if (accept('punct', '{')) {
      while (!accept('punct', '}')) {
        const label = peek().kind === 'string' ? next().text : expect('ident').text;
        const op = expect('op').text;
        if (!['=', '!=', '=~', '!~'].includes(op)) fail(`not a matcher: ${op}`);
        matchers.push({ label, op, value: expect('string').text });
        if (!accept('punct', ',')) {
          expect('punct', '}');
          break;
        }
      }
    }
    const named = name ?? matchers.find((matcher) => matcher.label === '__name__' && matcher.op === '=')?.value;
    if (named === undefined) {
      problems.push(`a selector without a metric name: {${matchers.map((m) => m.label).join(', ')}}`);
      return { kind: 'vector', labels: null, metrics: [] };
    }
    metrics.add(named);
    const exported = schema.exported.get(named);
    const external = schema.external?.get(named);
    let carries: Set<string> | null = null;
    if (exported) carries = new Set([...exported.keys(), ...targetLabels]);
    else if (external) carries = new Set(external);
    else problems.push(`the metric ${named} is not exported`);
    for (const { label, op, value } of matchers) {
      if (label === '__name__') continue;
      labels.add(label);
      if (carries && !carries.has(label)) {
        problems.push(`${named} has no label ${label}`);
        continue;
      }
      // A value the label cannot take selects nothing, silently: a typo, or a state that was renamed.
      const values = new Set([...(exported?.get(label) ?? []), ...(schema.knownValues?.get(label) ?? [])]);
      const checked = closed.has(label) || schema.knownValues?.has(label);
      if (!checked || value.includes('$')) continue;
      const wanted = op === '=' ? [value] : op === '=~' && /^[\w|]+$/.test(value) ? value.split('|') : [];
      for (const one of wanted) if (!values.has(one)) problems.push(`${named}{${label}} never has the value ${one}`);
    }
    return { kind: 'vector', labels: carries, metrics: [named] };
  };

  const aggregation = (op: string): Value => {
    let grouping: { how: string; names: string[] } | undefined;
    const clause = () => {
      const how = accept('ident', 'by')?.text ?? accept('ident', 'without')?.text;
      if (how) grouping = { how: how.toLowerCase(), names: labelList() };
    };
    clause();
    expect('punct', '(');
    const args = [expression()];
    while (accept('punct', ',')) args.push(expression());
    expect('punct', ')');
    clause();
    const argument = args.at(-1)!;
    if (op === 'count_values' && args[0]!.kind === 'string') labels.add(args[0]!.text!);
    if (grouping) carried(grouping.names, argument, `${op} ${grouping.how} (${grouping.names.join(', ')})`);
    let out: ReadonlySet<string> | null;
    if (PICKING.has(op)) out = argument.labels;
    else if (grouping?.how === 'by') out = new Set(grouping.names);
    else if (grouping?.how === 'without')
      out = argument.labels && new Set([...argument.labels].filter((label) => !grouping!.names.includes(label)));
    else out = new Set();
    if (op === 'count_values' && out && args[0]!.text) out = new Set([...out, args[0]!.text]);
    return { kind: 'vector', labels: out, metrics: argument.metrics };
  };

  const call = (name: string): Value => {
    if (!FUNCTIONS.has(name)) problems.push(`unknown function ${name}`);
    expect('punct', '(');
    const args: Value[] = [];
    if (!accept('punct', ')')) {
      args.push(expression());
      while (accept('punct', ',')) args.push(expression());
      expect('punct', ')');
    }
    const series = args.find((arg) => arg.kind === 'vector' || arg.kind === 'matrix');
    const strings = args.filter((arg) => arg.kind === 'string').map((arg) => arg.text!);
    const allMetrics = args.flatMap((arg) => arg.metrics);
    if (name === 'time' || name === 'pi' || name === 'scalar') return { ...scalar, metrics: allMetrics };
    if (LABELLESS.has(name)) return { kind: 'vector', labels: new Set(), metrics: allMetrics };
    if (!series) return { kind: 'vector', labels: new Set(), metrics: allMetrics };
    if (name.startsWith('histogram_') && name !== 'histogram_count' && name !== 'histogram_sum') {
      if (name === 'histogram_quantile' || name === 'histogram_fraction') carried(['le'], series, name);
      const out = series.labels && new Set([...series.labels].filter((label) => label !== 'le'));
      return { kind: 'vector', labels: out, metrics: series.metrics };
    }
    if (name === 'label_replace' || name === 'label_join') {
      // label_replace(v, dst, replacement, src, regex); label_join(v, dst, separator, src...)
      const [destination, , ...rest] = strings;
      const sources = name === 'label_replace' ? rest.slice(0, 1) : rest;
      for (const label of [destination, ...sources]) if (label) labels.add(label);
      carried(
        sources.filter((label) => label !== ''),
        series,
        `${name} from`,
      );
      return { kind: 'vector', labels: union(series.labels, new Set(destination ? [destination] : [])), metrics: series.metrics };
    }
    if (name === 'sort_by_label' || name === 'sort_by_label_desc') {
      for (const label of strings) labels.add(label);
      carried(strings, series, name);
    }
    return { kind: 'vector', labels: series.labels, metrics: series.metrics };
  };

  const primary = (): Value => {
    const token = next();
    switch (token.kind) {
      case 'number':
      case 'duration':
        return scalar;
      case 'string':
        return { kind: 'string', labels: new Set(), metrics: [], text: token.text };
      case 'punct':
        if (token.text === '(') {
          const inner = expression();
          expect('punct', ')');
          return inner;
        }
        if (token.text === '{') {
          position -= 1;
          return selector(undefined);
        }
        break;
      case 'ident': {
        const word = token.text.toLowerCase();
        if (word === 'inf' || word === 'nan') return scalar;
        if (AGGREGATIONS.has(word) && (peek().text === '(' || ['by', 'without'].includes(peek().text.toLowerCase())))
          return aggregation(word);
        if (peek().text === '(') return call(token.text);
        if (KEYWORDS.has(word) || SET_OPERATORS.has(word)) fail(`unexpected keyword ${token.text}`);
        return selector(token.text);
      }
    }
    return fail(`unexpected ${token.text || 'end'}`);
  };

  /** A primary with its range, subquery, offset and @ modifiers. */
  const postfix = (): Value => {
    let value = primary();
    for (;;) {
      const range = accept('range');
      if (range) {
        value = { ...value, kind: 'matrix' };
        continue;
      }
      if (accept('ident', 'offset')) {
        accept('op', '-');
        if (!accept('duration') && !accept('number')) fail('expected a duration after offset');
        continue;
      }
      if (accept('op', '@')) {
        if (accept('ident', 'start') || accept('ident', 'end')) {
          expect('punct', '(');
          expect('punct', ')');
        } else {
          accept('op', '-');
          expect('number');
        }
        continue;
      }
      return value;
    }
  };

  const unary = (): Value => {
    if (accept('op', '-') || accept('op', '+')) return expression(PRECEDENCE['^']!);
    return postfix();
  };

  const binaryOperator = (): string | undefined => {
    const token = peek();
    if (token.kind === 'op' && token.text in PRECEDENCE) return token.text;
    if (
      token.kind === 'ident' &&
      token.text.toLowerCase() in PRECEDENCE &&
      (SET_OPERATORS.has(token.text.toLowerCase()) || token.text === 'atan2')
    )
      return token.text.toLowerCase();
    return undefined;
  };

  const combine = (
    op: string,
    left: Value,
    right: Value,
    matching: { how?: string; on: string[]; group?: string; include: string[] },
  ): Value => {
    const metricsOf = [...left.metrics, ...right.metrics];
    const vectors = left.kind !== 'scalar' && right.kind !== 'scalar';
    if (!vectors) {
      if (matching.how || matching.group) problems.push(`${op} ${matching.how ?? matching.group}(...) between a scalar and a vector`);
      const vector = left.kind === 'scalar' ? right : left;
      return { kind: vector.kind === 'scalar' ? 'scalar' : 'vector', labels: vector.labels, metrics: metricsOf };
    }
    const clause = `${op} ${matching.how ?? ''} (${matching.on.join(', ')})`;
    if (matching.how === 'on') {
      carried(matching.on, left, `the left side of ${clause}`);
      carried(matching.on, right, `the right side of ${clause}`);
    } else if (matching.how === 'ignoring' && left.labels && right.labels) {
      for (const name of matching.on)
        if (!left.labels.has(name) && !right.labels.has(name)) problems.push(`${clause}: neither side carries the label ${name}`);
    }
    if (matching.group === 'group_left') {
      carried(matching.include, right, `${op} group_left (${matching.include.join(', ')})`);
      return { kind: 'vector', labels: union(left.labels, new Set(matching.include)), metrics: metricsOf };
    }
    if (matching.group === 'group_right') {
      carried(matching.include, left, `${op} group_right (${matching.include.join(', ')})`);
      return { kind: 'vector', labels: union(right.labels, new Set(matching.include)), metrics: metricsOf };
    }
    if (op === 'or') return { kind: 'vector', labels: union(left.labels, right.labels), metrics: metricsOf };
    if (SET_OPERATORS.has(op)) return { kind: 'vector', labels: left.labels, metrics: metricsOf };
    // One-to-one: the result keeps the labels it was matched on (on), or the left side's but those ignored.
    let out = left.labels;
    if (matching.how === 'on') out = new Set(matching.on);
    else if (matching.how === 'ignoring' && out) out = new Set([...out].filter((label) => !matching.on.includes(label)));
    return { kind: 'vector', labels: out, metrics: metricsOf };
  };

  function expression(minimum = 0): Value {
    let left = unary();
    for (;;) {
      const op = binaryOperator();
      if (op === undefined || PRECEDENCE[op]! < minimum) return left;
      next();
      accept('ident', 'bool');
      const matching: { how?: string; on: string[]; group?: string; include: string[] } = { on: [], include: [] };
      const how = accept('ident', 'on') ?? accept('ident', 'ignoring');
      if (how) {
        matching.how = how.text.toLowerCase();
        matching.on = labelList();
      }
      const group = accept('ident', 'group_left') ?? accept('ident', 'group_right');
      if (group) {
        matching.group = group.text.toLowerCase();
        if (peek().text === '(') matching.include = labelList();
      }
      // ^ is right-associative; every other operator left-associative.
      const right = expression(op === '^' ? PRECEDENCE[op]! : PRECEDENCE[op]! + 1);
      left = combine(op, left, right, matching);
    }
  }

  const result = expression();
  if (peek().kind !== 'end') fail(`unexpected ${peek().text}`);
  return { metrics: [...metrics], labels: [...labels], output: result.labels, problems };
}

/**
 * A Grafana template variable's query on Prometheus: `label_values(selector, label)`,
 * `label_values(label)`, `query_result(expr)`, or a plain expression.
 */
export function analyseVariableQuery(query: string, schema: Schema): Analysis {
  const values = /^\s*label_values\(\s*(?:(.*\S)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/s.exec(query);
  if (values) {
    const [, series, label] = values as unknown as [string, string | undefined, string];
    if (series === undefined) {
      const anywhere = schema.targetLabels.includes(label) || [...schema.exported.values()].some((labelsOf) => labelsOf.has(label));
      return { metrics: [], labels: [label], output: new Set([label]), problems: anywhere ? [] : [`no metric carries the label ${label}`] };
    }
    const analysis = analysePromQL(series, schema);
    const problems = [...analysis.problems];
    if (analysis.output && !analysis.output.has(label))
      problems.push(`label_values: no series of ${analysis.metrics.join(', ')} carries ${label}`);
    return { ...analysis, labels: [...new Set([...analysis.labels, label])], problems };
  }
  const result = /^\s*query_result\((.*)\)\s*$/s.exec(query);
  return analysePromQL(result ? result[1]! : query, schema);
}

/** The labels a Grafana legend format names: `{{operation}} p95`. */
export function legendLabels(format: string): string[] {
  return [...format.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((match) => match[1]!);
}

/** The labels an alert's annotation template names: `{{ $labels.instance }}`. */
export function alertLabels(template: string): string[] {
  return [...template.matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g)].map((match) => match[1]!);
}

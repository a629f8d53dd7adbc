import cluster, { type Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, Gauge, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/**
 * One scrape of a cluster: the worker that Prometheus reached asks the primary (ASK), which asks
 * every worker for its figures (COLLECT, REPORT) and hands them back (ANSWER), each under the
 * worker's slot. Slots stay when a process is replaced, so a replaced process's counters start
 * again under the same series, a reset Prometheus's rate() understands; a pid label alone would
 * show one process a scrape, a different one each time.
 */
const ASK = 'flowledger:metrics:ask';
const COLLECT = 'flowledger:metrics:collect';
const REPORT = 'flowledger:metrics:report';
const ANSWER = 'flowledger:metrics:answer';

/** A process that does not report within this is left out of the scrape, and counted as silent. */
const REPORT_TIMEOUT_MS = 2_000;
const ANSWER_TIMEOUT_MS = 5_000;
/**
 * A round's figures answer every scrape that asks within this of its end. Collecting resets
 * Node's event-loop histogram, so rounds close together would each see a sliver of it (NaN
 * within a few milliseconds); and however many scrapes come, the primary runs one round at a time.
 */
const ROUND_REUSE_MS = 1_000;

type Figures = MetricObjectWithValues<MetricValue<string>>[];
interface Report {
  readonly worker: number;
  readonly metrics: Figures | null;
}
interface Round {
  readonly reports: Report[];
  /** Processes the cluster runs when all are up: one dead and not yet replaced is in neither count. */
  readonly expected: number;
}
interface Message extends Partial<Round> {
  readonly type: string;
  readonly id: string;
  readonly metrics?: Figures;
}

const isMessage = (message: unknown, type: string): message is Message =>
  typeof message === 'object' && message !== null && (message as Message).type === type;

function reportOf(worker: Worker, id: string): Promise<Figures | null> {
  return new Promise((resolve) => {
    const finish = (metrics: Figures | null) => {
      clearTimeout(timer);
      worker.off('message', received).off('exit', exited);
      resolve(metrics);
    };
    const received = (message: unknown) => {
      if (isMessage(message, REPORT) && message.id === id) finish(message.metrics ?? null);
    };
    const exited = () => finish(null);
    const timer = setTimeout(exited, REPORT_TIMEOUT_MS);
    worker.on('message', received).on('exit', exited);
    worker.send({ type: COLLECT, id });
  });
}

/** The primary's part: answers each worker's ASK with every live worker's figures, by slot. */
export function relayClusterScrapes(slotOf: (worker: Worker) => number | undefined, expected: number): void {
  let round: Promise<Round> | undefined;
  let endedAt = 0;
  let last: Round | undefined;
  const collect = async (): Promise<Round> => {
    const id = randomUUID();
    const live = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker?.isConnected() === true);
    const slotted = live.flatMap((worker) => {
      const slot = slotOf(worker);
      return slot === undefined ? [] : [{ worker, slot }];
    });
    const reports = await Promise.all(slotted.map(async ({ worker, slot }) => ({ worker: slot, metrics: await reportOf(worker, id) })));
    return { reports, expected };
  };
  cluster.on('message', (asker, message: unknown) => {
    if (!isMessage(message, ASK)) return;
    const answer = (done: Round) => {
      if (asker.isConnected()) asker.send({ type: ANSWER, id: message.id, ...done });
    };
    if (last && Date.now() - endedAt < ROUND_REUSE_MS) return answer(last);
    round ??= collect().then((done) => {
      [round, last, endedAt] = [undefined, done, Date.now()];
      return done;
    });
    void round.then(answer);
  });
}

/** A worker's part: reports its own figures whenever the primary collects them. Returns the unsubscribe. */
export function reportToCluster(collect: () => Promise<Figures>): () => void {
  const collecting = (message: unknown) => {
    if (!isMessage(message, COLLECT)) return;
    // A registry that fails to collect reports nothing, and is counted as silent.
    void collect().then(
      (metrics) => process.send?.({ type: REPORT, id: message.id, metrics }),
      () => process.send?.({ type: REPORT, id: message.id }),
    );
  };
  process.on('message', collecting);
  return () => process.off('message', collecting);
}

function render({ reports, expected }: Round): Promise<string> {
  const labelled = reports.flatMap(({ worker, metrics }) =>
    metrics
      ? [
          // Every series now carries its worker, so none is merged with another's: keep each as it is
          // (prom-client's default would average some and drop process_start_time_seconds).
          metrics.map((metric) => ({
            ...metric,
            aggregator: 'first' as const,
            values: metric.values.map((value) => ({ ...value, labels: { ...value.labels, worker: String(worker) } })),
          })),
        ]
      : [],
  );
  const registry = AggregatorRegistry.aggregate(labelled);
  const workers = new Gauge({
    name: 'flowledger_cluster_workers',
    help: 'Server processes: those the cluster runs when all are up, those that reported to this scrape, and those that did not in time',
    labelNames: ['state'],
    registers: [registry],
  });
  workers.set({ state: 'expected' }, expected);
  workers.set({ state: 'reporting' }, labelled.length);
  workers.set({ state: 'silent' }, reports.length - labelled.length);
  return registry.metrics();
}

let pending: Promise<string> | undefined;

/** A worker's /metrics: every process of the cluster, one scrape at a time however many ask. */
export function scrapeCluster(): Promise<string> {
  pending ??= new Promise<string>((resolve, reject) => {
    const id = randomUUID();
    const finish = () => {
      clearTimeout(timer);
      process.off('message', answered);
      pending = undefined;
    };
    const answered = (message: unknown) => {
      if (!isMessage(message, ANSWER) || message.id !== id) return;
      finish();
      render({ reports: message.reports ?? [], expected: message.expected ?? 0 }).then(resolve, reject);
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error('the cluster primary did not answer the scrape'));
    }, ANSWER_TIMEOUT_MS);
    process.on('message', answered);
    process.send!({ type: ASK, id });
  });
  return pending;
}

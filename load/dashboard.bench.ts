import { setTimeout as sleep } from 'node:timers/promises';
import { CHROMIUM, launchBrowser, openDashboard } from '../test/support/browser.ts';
import { startBenchServer } from './support/server.ts';
import { percentile } from './support/stats.ts';

// npm run bench:dashboard: the dashboard in Chromium while the log moves fast. RATE events a
// second (default 100) for SECONDS (default 60) are written through the API while the page shows
// the live log. Measured in the browser: input latency (an arrow key in the log, until the page
// has painted the newly selected event), long tasks, frames drawn, the JavaScript heap and the
// DOM's size, and whether the page has every event at the end.
const RATE = Number(process.env.RATE ?? 100);
const SECONDS = Number(process.env.SECONDS ?? 60);
const CREATE =
  'mutation($n: String!) { createWorkflow(input: { name: $n, definition: { startAt: "a", nodes: { a: { type: "succeed" } } } }) { id } }';

if (!CHROMIUM) throw new Error('no Chromium: apt-get install chromium, or set CHROMIUM_PATH');
const server = await startBenchServer();
const browser = await launchBrowser();
try {
  const origin = new URL(server.url).origin;
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  // Long tasks and frames, from before the page's first script.
  await page.addInitScript(() => {
    const seen = ((globalThis as any).__bench = { longTasks: [] as number[], frames: 0, inputs: [] as number[] });
    new PerformanceObserver((list) => list.getEntries().forEach((entry) => seen.longTasks.push(entry.duration))).observe({
      type: 'longtask',
    });
    const frame = () => {
      seen.frames += 1;
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
  await openDashboard(page, origin, server.key);
  await page.locator('[data-marker="caught-up"]').waitFor();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const metrics = async () => {
    const { metrics: list } = await cdp.send('Performance.getMetrics');
    const value = (name: string) => list.find((metric) => metric.name === name)!.value;
    return { heapMiB: value('JSHeapUsedSize') / 2 ** 20, nodes: value('Nodes') };
  };
  const start = await metrics();
  const list = page.getByRole('listbox', { name: 'Events as they commit' });

  let written = 0;
  let failed = 0;
  const writes: Promise<void>[] = [];
  const writer = setInterval(() => {
    for (let i = 0; i < RATE / 10; i += 1) {
      const n = (written += 1);
      writes.push(
        server.gql(CREATE, { n: `dash ${n}` }).then(
          () => undefined,
          () => void (failed += 1),
        ),
      );
    }
  }, 100);
  const samples: { at: number; heapMiB: number; nodes: number }[] = [];
  const inputs: number[] = [];
  const began = performance.now();
  for (let second = 1; second <= SECONDS; second += 1) {
    await sleep(began + second * 1000 - performance.now());
    if (second % 5 === 0) samples.push({ at: second, ...(await metrics()) });
    // An arrow key in the log: from the key to the frame that shows the event it selects.
    const latency = await list.evaluate(
      (element, key) =>
        new Promise<number>((done) => {
          const from = performance.now();
          element.focus();
          element.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
          requestAnimationFrame(() => setTimeout(() => done(performance.now() - from)));
        }),
      second % 2 ? 'ArrowUp' : 'ArrowDown',
    );
    inputs.push(latency);
  }
  clearInterval(writer);
  await Promise.all(writes);
  const stopped = performance.now();
  const shown = () => page.evaluate(() => Number(/^(\d+)/.exec(document.querySelector('[data-testid="log-count"]')!.textContent!)![1]));
  const expected = Math.min(written - failed + 1, 2000);
  while ((await shown()) < expected && performance.now() - stopped < 10_000) await sleep(20);
  const drained = performance.now() - stopped;
  await cdp.send('HeapProfiler.collectGarbage');
  const end = await metrics();
  const seen = (await page.evaluate(() => (globalThis as any).__bench)) as { longTasks: number[]; frames: number };
  const elapsed = (stopped - began) / 1000;
  const longest = Math.max(0, ...seen.longTasks);
  console.log(`
| Figure | Value |
|---|---|
| events written | ${written - failed} in ${elapsed.toFixed(1)} s (${((written - failed) / elapsed).toFixed(0)}/s), ${failed} failed |
| rows the page kept at the end | ${await shown()} of ${expected} expected (the newest 2,000 stay) |
| the last event on the page after the writes stopped | ${drained.toFixed(0)} ms |
| input latency, arrow key to painted frame (${inputs.length} presses) | p50 ${percentile(inputs, 50).toFixed(1)} ms, p95 ${percentile(inputs, 95).toFixed(1)} ms, max ${Math.max(...inputs).toFixed(1)} ms |
| long tasks (over 50 ms) | ${seen.longTasks.length}, longest ${longest.toFixed(0)} ms |
| frames drawn | ${(seen.frames / elapsed).toFixed(0)} a second |
| JS heap | ${start.heapMiB.toFixed(1)} MiB at the start; every 5 s: ${samples.map((sample) => sample.heapMiB.toFixed(1)).join(', ')} MiB; ${end.heapMiB.toFixed(1)} MiB at the end, after a GC |
| DOM nodes | ${start.nodes} at the start; ${samples.map((sample) => sample.nodes).join(', ')} every 5 s; ${end.nodes} at the end |
`);
} finally {
  await browser.close();
  await server.stop();
}

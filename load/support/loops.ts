/**
 * `workers` loops, each repeating its own step until `seconds` have passed. `worker` makes a
 * loop's step, so that a loop can keep state of its own between steps. Resolves with the
 * seconds they really ran: each loop ends with its last step, after the deadline.
 */
export async function loopFor(workers: number, seconds: number, worker: (index: number) => () => Promise<void>): Promise<number> {
  const began = performance.now();
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: workers }, async (_, index) => {
      const step = worker(index);
      while (Date.now() < end) await step();
    }),
  );
  return (performance.now() - began) / 1000;
}

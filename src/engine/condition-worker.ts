// Evaluates choice conditions off the main thread, so that one which runs too long can be
// stopped (by terminating this worker) without stalling the process.
import { parentPort } from 'node:worker_threads';
import { evaluateCondition } from '../domain/workflows/expressions.ts';

parentPort!.postMessage({ ready: true });
parentPort!.on('message', ({ expression, data }: { expression: string; data: unknown }) => {
  try {
    parentPort!.postMessage({ value: evaluateCondition(expression, data) });
  } catch (error) {
    parentPort!.postMessage({ error: (error as Error).message.split('\n')[0] });
  }
});

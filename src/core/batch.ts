/**
 * `Subscription.batches()` for every subscription class: the `max` check and the reading loop.
 * A subscription supplies one step (a batch of what it holds, a promise to wait on, or the end)
 * and its close().
 */
import { err } from './errors.js';
import type { BatchOptions, Delivery } from './types.js';

/** `opts.max` as a limit: a positive integer, or Infinity when absent. */
export function batchLimit(opts: BatchOptions | undefined): number {
  const max = opts?.max;
  if (max === undefined) return Infinity;
  if (max !== Infinity && (!Number.isInteger(max) || max < 1)) {
    throw err('MQ_ERR_INVALID_ARGUMENT', `batches({ max }) must be an integer >= 1, got ${String(max)}`);
  }
  return max;
}

/**
 * One step of a batch reader: up to `max` buffered deliveries; else a promise that settles when
 * something arrives or the subscription ends; else `null` once it has ended. A failed
 * subscription throws its error from the step.
 */
export type BatchStep = (max: number) => Delivery[] | Promise<void> | null;

/** Yields what `step` hands out until it says the end; leaving the loop in any way closes. */
export async function* readBatches(max: number, step: BatchStep, close: () => Promise<void>): AsyncGenerator<readonly Delivery[], void, undefined> {
  try {
    for (;;) {
      const s = step(max);
      if (s === null) return;
      if (Array.isArray(s)) yield s;
      else await s;
    }
  } finally {
    await close();
  }
}

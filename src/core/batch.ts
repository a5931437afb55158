/**
 * The `max` of `Subscription.batches()`, checked the same way by every transport.
 */
import { err } from './errors.js';
import type { BatchOptions } from './types.js';

/** `opts.max` as a limit: a positive integer, or Infinity when absent. */
export function batchLimit(opts: BatchOptions | undefined): number {
  const max = opts?.max;
  if (max === undefined) return Infinity;
  if (max !== Infinity && (!Number.isInteger(max) || max < 1)) {
    throw err('MQ_ERR_INVALID_ARGUMENT', `batches({ max }) must be an integer >= 1, got ${String(max)}`);
  }
  return max;
}

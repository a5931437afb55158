/**
 * RabbitMQ's dead-lettering header bookkeeping, as a DeadLetterTarget transform: the engine moves
 * the record, this adds the `x-death` table (one entry per (queue, reason), `count` incremented
 * and the entry moved to the front when it repeats), `x-first-death-*`, moves `expiration` to
 * `original-expiration` (so the copy does not expire again), and sets the exchange/routing key
 * the dead-lettered copy is delivered with.
 *
 * The transform decodes and re-encodes the properties of every dead-lettered message (a few µs);
 * dead-lettering is not a hot path.
 */
import type { DeadLetterTarget } from '../../../engine/engine.js';
import type { DeadLetterReason } from '../../../engine/group.js';
import { PROPS_AMQP091, type RecordInput } from '../../../engine/record.js';
import type { FieldTable, FieldValue } from '../index.js';
import { EXCHANGE_HEADER, encodeProps, recordPropsObject } from './util.js';

const REASONS: Record<DeadLetterReason, string> = {
  rejected: 'rejected',
  expired: 'expired',
  maxlen: 'maxlen',
  'max-attempts': 'delivery_limit',
};

export function deadLetterTarget(queue: string, dlx: string, dlrk: string | undefined, now: () => number): DeadLetterTarget {
  return {
    exchange: dlx,
    routingKey: dlrk,
    routingKeyOf: (rec) => rec.key ?? '',
    transform: (rec, info) => addXDeath(rec, queue, REASONS[info.reason], dlx, dlrk, now()),
  };
}

export function addXDeath(rec: RecordInput, queue: string, reason: string, dlx: string, dlrk: string | undefined, now: number): RecordInput {
  const props = recordPropsObject(rec);
  const headers: FieldTable = { ...(props.headers ?? {}) };
  const exchange = rec.headers?.[EXCHANGE_HEADER] ?? '';
  const routingKey = rec.key ?? '';
  const prev = Array.isArray(headers['x-death']) ? (headers['x-death'] as FieldValue[]) : [];
  const deaths: FieldValue[] = [];
  let entry: FieldTable | undefined;
  for (const d of prev) {
    if (entry === undefined && isTable(d) && d['queue'] === queue && d['reason'] === reason) entry = { ...d };
    else deaths.push(d);
  }
  if (entry) {
    const c = entry['count'];
    entry['count'] = (typeof c === 'number' ? c : typeof c === 'bigint' ? Number(c) : 0) + 1;
    entry['time'] = new Date(now);
  } else {
    entry = { count: 1, reason, queue, time: new Date(now), exchange, 'routing-keys': [routingKey] };
    if (props.expiration !== undefined) entry['original-expiration'] = props.expiration;
  }
  deaths.unshift(entry);
  headers['x-death'] = deaths;
  if (headers['x-first-death-reason'] === undefined) {
    headers['x-first-death-reason'] = reason;
    headers['x-first-death-queue'] = queue;
    headers['x-first-death-exchange'] = exchange;
  }
  const out = { ...props, headers };
  delete out.expiration;
  const strHeaders: Record<string, string> = { ...(rec.headers ?? {}) };
  if (dlx === '') delete strHeaders[EXCHANGE_HEADER];
  else strHeaders[EXCHANGE_HEADER] = dlx;
  return {
    body: rec.body,
    key: dlrk ?? routingKey,
    headers: strHeaders,
    timestamp: now,
    priority: rec.priority,
    props: encodeProps(out),
    propsFormat: PROPS_AMQP091,
  };
}

function isTable(v: FieldValue): v is FieldTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date) && Object.getPrototypeOf(v) === Object.prototype;
}

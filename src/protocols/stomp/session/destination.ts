/**
 * STOMP destination names → engine objects (see docs/protocols/stomp.md, "Mapping").
 *
 *   /queue/NAME, /amq/queue/NAME        engine topic NAME, group `default` (shared with AMQP queue
 *                                       NAME, Redis list NAME); a bare NAME is a queue too
 *   /topic/NAME                         exchange `amq.topic`, routing key NAME (ActiveMQ `.`
 *                                       words; on SUBSCRIBE `*` and `>` wildcards)
 *   /exchange/X[/KEY]                   exchange X, routing key KEY (RabbitMQ form; AMQP syntax)
 *   /temp-queue/N, /temp-topic/N        per-connection names, rewritten to /remote-temp-… in
 *                                       reply-to so another connection can answer
 *   /remote-temp-queue/Q, /remote-temp-topic/K   the engine name / key itself
 *   A,B (composite)                     each part; a part without a leading `/` has the type of
 *                                       the part before it (`/queue/a,b` = queues a and b)
 *
 * Pure: no engine calls; throws DestinationError for names it cannot map.
 */
import { stompPatternToCanonical } from '../../../engine/routing/topic-trie.js';

export const TOPIC_EXCHANGE = 'amq.topic';

export type Destination =
  | { kind: 'queue'; name: string; header: string; temp: boolean }
  | { kind: 'route'; exchange: string; key: string; header: string; wildcard: boolean };

export class DestinationError extends Error {}

export interface DestinationContext {
  /** Engine name of this connection's temp queue N. */
  tempQueue(n: string): string;
  /** Routing key of this connection's temp topic N. */
  tempTopic(n: string): string;
}

type Kind = 'queue' | 'topic' | 'temp-queue' | 'temp-topic' | 'remote-temp-queue' | 'remote-temp-topic' | 'exchange';

const PREFIXES: [string, Kind][] = [
  ['/queue/', 'queue'],
  ['/amq/queue/', 'queue'],
  ['/topic/', 'topic'],
  ['/temp-queue/', 'temp-queue'],
  ['/temp-topic/', 'temp-topic'],
  ['/remote-temp-queue/', 'remote-temp-queue'],
  ['/remote-temp-topic/', 'remote-temp-topic'],
  ['/exchange/', 'exchange'],
];

/** Parses a (possibly composite) destination. `subscribe` converts topic wildcards. */
export function parseDestinations(text: string, ctx: DestinationContext, subscribe: boolean): Destination[] {
  const out: Destination[] = [];
  let prev: Kind = 'queue';
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') throw new DestinationError(`empty destination in "${text}"`);
    let kind: Kind | undefined;
    let name = part;
    for (const [p, k] of PREFIXES) {
      if (part.startsWith(p)) {
        kind = k;
        name = part.slice(p.length);
        break;
      }
    }
    if (kind === undefined) {
      if (part.startsWith('/')) throw new DestinationError(`unknown destination type "${part}": use /queue/, /topic/, /temp-queue/, /temp-topic/, /exchange/ or /amq/queue/`);
      kind = prev;
    }
    if (name === '' && kind !== 'exchange') throw new DestinationError(`destination "${part}" has no name`);
    prev = kind;
    out.push(one(kind, name, ctx, subscribe));
  }
  return out;
}

function one(kind: Kind, name: string, ctx: DestinationContext, subscribe: boolean): Destination {
  switch (kind) {
    case 'queue':
      return { kind: 'queue', name, header: '/queue/' + name, temp: false };
    case 'temp-queue':
      return { kind: 'queue', name: ctx.tempQueue(name), header: '/temp-queue/' + name, temp: true };
    case 'remote-temp-queue':
      return { kind: 'queue', name, header: '/remote-temp-queue/' + name, temp: false };
    case 'topic':
    case 'temp-topic':
    case 'remote-temp-topic': {
      const key = kind === 'temp-topic' ? ctx.tempTopic(name) : name;
      let pattern = key;
      if (subscribe) {
        try {
          pattern = stompPatternToCanonical(key);
        } catch (e) {
          throw new DestinationError(e instanceof Error ? e.message : String(e));
        }
      }
      const wildcard = pattern !== key || /(^|\.)[*#](\.|$)/.test(pattern);
      return { kind: 'route', exchange: TOPIC_EXCHANGE, key: pattern, header: `/${kind}/` + name, wildcard: subscribe && wildcard };
    }
    case 'exchange': {
      const slash = name.indexOf('/');
      const exchange = slash < 0 ? name : name.slice(0, slash);
      const key = slash < 0 ? '' : name.slice(slash + 1);
      if (exchange === '') throw new DestinationError('an /exchange/ destination needs an exchange name');
      return { kind: 'route', exchange, key, header: '/exchange/' + name, wildcard: subscribe && /(^|\.)[*#](\.|$)/.test(key) };
    }
  }
}

/** reply-to rewriting: a connection's own temp names become names any connection can send to. */
export function rewriteReplyTo(replyTo: string, ctx: DestinationContext): string {
  if (replyTo.startsWith('/temp-queue/')) return '/remote-temp-queue/' + ctx.tempQueue(replyTo.slice('/temp-queue/'.length));
  if (replyTo.startsWith('/temp-topic/')) return '/remote-temp-topic/' + ctx.tempTopic(replyTo.slice('/temp-topic/'.length));
  return replyTo;
}

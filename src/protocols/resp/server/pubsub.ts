/**
 * Redis pub/sub fan-out: an in-memory map of channels and glob patterns to subscribed sessions.
 *
 * Pub/sub is not stored and not routed through the engine — that is Redis's semantics (a message
 * published while nobody listens is gone), and it keeps PUBLISH at one map lookup plus one
 * write per subscriber. Names are latin1 strings, so every byte of a binary channel name
 * round-trips exactly. Pattern matching costs one glob match per pattern per PUBLISH, as in
 * Redis (Redis is O(patterns) too).
 *
 * Shard channels (SSUBSCRIBE/SPUBLISH) live in their own namespace, as in Redis; there is one
 * shard here.
 *
 * It does NOT bound output: each subscriber enforces its own output-buffer limit when written to
 * (see Session.pushFrame), disconnecting slow subscribers as Redis's client-output-buffer-limit
 * pubsub does.
 */
import { globMatch } from './glob.js';

export interface PubSubSubscriber {
  /** A message on a channel the subscriber listens to (kind 'message' or 'smessage'). */
  deliver(kind: 'message' | 'smessage', channel: string, message: Buffer): void;
  /** A message matched by one of the subscriber's patterns. */
  deliverPattern(pattern: string, channel: string, message: Buffer): void;
}

export class PubSubHub {
  readonly channels = new Map<string, Set<PubSubSubscriber>>();
  readonly patterns = new Map<string, Set<PubSubSubscriber>>();
  readonly shardChannels = new Map<string, Set<PubSubSubscriber>>();

  /** Returns true if newly subscribed. */
  subscribe(map: Map<string, Set<PubSubSubscriber>>, name: string, s: PubSubSubscriber): boolean {
    let set = map.get(name);
    if (!set) map.set(name, (set = new Set()));
    if (set.has(s)) return false;
    set.add(s);
    return true;
  }

  /** Returns true if it was subscribed. */
  unsubscribe(map: Map<string, Set<PubSubSubscriber>>, name: string, s: PubSubSubscriber): boolean {
    const set = map.get(name);
    if (!set || !set.delete(s)) return false;
    if (set.size === 0) map.delete(name);
    return true;
  }

  /** PUBLISH: returns the number of receivers (channel subscribers + pattern matches). */
  publish(channel: string, message: Buffer): number {
    let n = 0;
    const subs = this.channels.get(channel);
    if (subs) {
      // Copy: a subscriber may be disconnected (and unsubscribed) while we deliver.
      for (const s of [...subs]) {
        s.deliver('message', channel, message);
        n++;
      }
    }
    for (const [pattern, set] of this.patterns) {
      if (!globMatch(pattern, channel)) continue;
      for (const s of [...set]) {
        s.deliverPattern(pattern, channel, message);
        n++;
      }
    }
    return n;
  }

  /** SPUBLISH. */
  spublish(channel: string, message: Buffer): number {
    const subs = this.shardChannels.get(channel);
    if (!subs) return 0;
    for (const s of [...subs]) s.deliver('smessage', channel, message);
    return subs.size;
  }
}

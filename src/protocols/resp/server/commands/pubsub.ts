/**
 * Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE, SUNSUBSCRIBE,
 * PUBLISH, SPUBLISH, PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARDCHANNELS/SHARDNUMSUB. Confirmations are
 * RESP3 push frames (`>`) or RESP2 arrays, as Redis 7 sends them. Fan-out: ../pubsub.ts.
 */
import { kw } from '../args.js';
import { RespError } from '../errors.js';
import { globMatch } from '../glob.js';
import type { PubSubSubscriber } from '../pubsub.js';
import type { Session } from '../session.js';
import { cmd, KEY1, NO_KEYS, type CommandSpec } from './types.js';

type Kind = 'channel' | 'pattern' | 'shard';

function sets(s: Session, kind: Kind): { mine: Set<string>; map: Map<string, Set<PubSubSubscriber>> } {
  const hub = s.broker.hub;
  if (kind === 'channel') return { mine: s.channels, map: hub.channels };
  if (kind === 'pattern') return { mine: s.patterns, map: hub.patterns };
  return { mine: s.shardChannels, map: hub.shardChannels };
}

function confirm(s: Session, word: string, name: string | null, kind: Kind): void {
  const w = s.w;
  w.pushHeader(3).bulk(word);
  if (name === null) w.nullBulk();
  else w.bulk(Buffer.from(name, 'latin1'));
  w.integer(kind === 'shard' ? s.shardChannels.size : s.channels.size + s.patterns.size);
}

function subscribe(kind: Kind, word: string) {
  return (s: Session, a: Buffer[]): void => {
    if (s.multi) throw new RespError(`ERR ${word.toUpperCase()} isn't allowed for a DENY BLOCKING client`);
    const { mine, map } = sets(s, kind);
    for (const b of a.slice(1)) {
      const name = b.toString('latin1');
      if (!mine.has(name)) {
        mine.add(name);
        s.broker.hub.subscribe(map, name, s);
      }
      confirm(s, word, name, kind);
    }
  };
}

function unsubscribe(kind: Kind, word: string) {
  return (s: Session, a: Buffer[]): void => {
    const { mine, map } = sets(s, kind);
    const names = a.length > 1 ? a.slice(1).map((b) => b.toString('latin1')) : [...mine];
    if (names.length === 0) {
      confirm(s, word, null, kind);
      return;
    }
    for (const name of names) {
      if (mine.delete(name)) s.broker.hub.unsubscribe(map, name, s);
      confirm(s, word, name, kind);
    }
  };
}

function pubsubCmd(s: Session, a: Buffer[]): void {
  const sub = kw(a[1]!);
  const hub = s.broker.hub;
  const w = s.w;
  switch (sub) {
    case 'channels':
    case 'shardchannels': {
      const map = sub === 'channels' ? hub.channels : hub.shardChannels;
      const pat = a[2]?.toString('latin1');
      const names = [...map.keys()].filter((c) => pat === undefined || globMatch(pat, c));
      w.arrayHeader(names.length);
      for (const c of names) w.bulk(Buffer.from(c, 'latin1'));
      return;
    }
    case 'numsub':
    case 'shardnumsub': {
      const map = sub === 'numsub' ? hub.channels : hub.shardChannels;
      const names = a.slice(2);
      w.mapHeader(names.length);
      for (const b of names) w.bulk(b).integer(map.get(b.toString('latin1'))?.size ?? 0);
      return;
    }
    case 'numpat':
      w.integer(hub.patterns.size);
      return;
    default:
      throw new RespError(`ERR unknown subcommand '${a[1]!.toString('utf8')}'. Try PUBSUB HELP.`);
  }
}

const commands: CommandSpec[] = [
  cmd('subscribe', -2, ['pubsub', 'noscript', 'loading', 'stale'], NO_KEYS, subscribe('channel', 'subscribe')),
  cmd('unsubscribe', -1, ['pubsub', 'noscript', 'loading', 'stale'], NO_KEYS, unsubscribe('channel', 'unsubscribe')),
  cmd('psubscribe', -2, ['pubsub', 'noscript', 'loading', 'stale'], NO_KEYS, subscribe('pattern', 'psubscribe')),
  cmd('punsubscribe', -1, ['pubsub', 'noscript', 'loading', 'stale'], NO_KEYS, unsubscribe('pattern', 'punsubscribe')),
  cmd('ssubscribe', -2, ['pubsub', 'noscript', 'loading', 'stale'], [1, -1, 1], subscribe('shard', 'ssubscribe')),
  cmd('sunsubscribe', -1, ['pubsub', 'noscript', 'loading', 'stale'], [1, -1, 1], unsubscribe('shard', 'sunsubscribe')),
  cmd('publish', 3, ['pubsub', 'loading', 'stale', 'fast'], NO_KEYS, (s, a) => void s.w.integer(s.broker.hub.publish(a[1]!.toString('latin1'), a[2]!))),
  cmd('spublish', 3, ['pubsub', 'loading', 'stale', 'fast'], KEY1, (s, a) => void s.w.integer(s.broker.hub.spublish(a[1]!.toString('latin1'), a[2]!))),
  cmd('pubsub', -2, ['pubsub', 'loading', 'stale'], NO_KEYS, pubsubCmd),
];

export default commands;

import type { Session } from '../session.js';

/**
 * A command table entry. `arity` follows Redis: n > 0 exactly n arguments (including the
 * command name), n < 0 at least -n. `flags`, `firstKey`, `lastKey`, `step` are what COMMAND
 * reports (clients use them for cluster routing and redis-cli for hints).
 */
export interface CommandSpec {
  readonly name: string;
  readonly arity: number;
  readonly flags: readonly string[];
  readonly firstKey: number;
  readonly lastKey: number;
  readonly step: number;
  /** Allowed before authentication (AUTH, HELLO, QUIT). */
  readonly noAuth?: boolean;
  /** Precomputed from flags: the command may modify its keys ('write'), may grow memory ('denyoom'). */
  readonly write: boolean;
  readonly denyoom: boolean;
  /**
   * A keyspace (string/hash/set/zset) command: it reports its own key changes to WATCH (only
   * real modifications), and 'denyoom' ones are refused above the keyspace memory limit.
   */
  readonly kv: boolean;
  handler(s: Session, args: Buffer[]): Promise<void> | void;
}

export function cmd(
  name: string,
  arity: number,
  flags: readonly string[],
  keys: readonly [number, number, number],
  handler: CommandSpec['handler'],
  noAuth = false,
): CommandSpec {
  return { name, arity, flags, firstKey: keys[0], lastKey: keys[1], step: keys[2], handler, noAuth, write: flags.includes('write'), denyoom: flags.includes('denyoom'), kv: false };
}

/** A keyspace command (see CommandSpec.kv). */
export function kvCmd(name: string, arity: number, flags: readonly string[], keys: readonly [number, number, number], handler: CommandSpec['handler']): CommandSpec {
  return { ...cmd(name, arity, flags, keys, handler), kv: true };
}

export const NO_KEYS = [0, 0, 0] as const;
export const KEY1 = [1, 1, 1] as const;

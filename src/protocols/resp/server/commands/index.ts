/**
 * The command table: every supported command, by lower-case name. One module per family, each
 * named after its commands (grep for `XREADGROUP` finds streams.ts).
 */
import connection from './connection.js';
import hashes from './hashes.js';
import keys from './keys.js';
import lists from './lists.js';
import pubsub from './pubsub.js';
import scripting from './scripting.js';
import sets from './sets.js';
import streams from './streams.js';
import strings from './strings.js';
import transactions from './transactions.js';
import zsets from './zsets.js';
import type { CommandSpec } from './types.js';

export type { CommandSpec } from './types.js';

export const COMMANDS = new Map<string, CommandSpec>();
for (const family of [connection, keys, strings, hashes, sets, zsets, lists, streams, pubsub, transactions, scripting]) for (const c of family) COMMANDS.set(c.name, c);

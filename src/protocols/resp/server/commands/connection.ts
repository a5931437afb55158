/**
 * Connection and server commands: HELLO, AUTH, PING, ECHO, SELECT, CLIENT (ID, SETNAME, GETNAME,
 * SETINFO, LIST, INFO, KILL, NO-EVICT, NO-TOUCH), INFO, COMMAND (COUNT, INFO, LIST, DOCS), CONFIG
 * GET/SET/RESETSTAT, QUIT, RESET, DBSIZE, FLUSHDB, FLUSHALL, TIME, LASTSAVE.
 *
 * The server presents itself as Redis 7.2.4 in INFO (`redis_version`) and HELLO `version`:
 * client libraries gate features on that number (BullMQ requires >= 5, node-redis and redis-py
 * choose reply shapes by it). HELLO `server` says `omnibus`.
 */
import os from 'node:os';
import { int, kw, str } from '../args.js';
import { globMatch } from '../glob.js';
import { RespError, SYNTAX } from '../errors.js';
import type { Session } from '../session.js';
import { cmd, NO_KEYS, type CommandSpec } from './types.js';
import { COMMANDS } from './index.js';

export const REDIS_VERSION = '7.2.4';

function hello(s: Session, a: Buffer[]): void {
  let proto = s.protocol;
  let i = 1;
  if (a.length > 1) {
    const v = a[1]!.toString('latin1');
    const n = Number(v);
    if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n)) throw new RespError('ERR Protocol version is not an integer or out of range');
    if (n !== 2 && n !== 3) throw new RespError('NOPROTO unsupported protocol version');
    proto = n;
    i = 2;
  }
  let setName: string | undefined;
  for (; i < a.length; i++) {
    const opt = kw(a[i]!);
    if (opt === 'auth' && i + 2 < a.length) {
      const user = str(a[i + 1]!);
      const pass = str(a[i + 2]!);
      if (!s.checkPassword(user, pass)) throw new RespError('WRONGPASS invalid username-password pair or user is disabled.');
      s.setAuthenticated(user);
      i += 2;
    } else if (opt === 'setname' && i + 1 < a.length) {
      setName = checkName(a[i + 1]!);
      i += 1;
    } else {
      throw new RespError(`ERR Syntax error in HELLO option '${a[i]!.toString('utf8')}'`);
    }
  }
  if (!s.authenticated) {
    throw new RespError('NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
  }
  if (setName !== undefined) s.name = setName;
  s.setProtocol(proto);
  const w = s.w;
  w.mapHeader(7);
  w.bulk('server').bulk('omnibus');
  w.bulk('version').bulk(REDIS_VERSION);
  w.bulk('proto').integer(proto);
  w.bulk('id').integer(s.id);
  w.bulk('mode').bulk('standalone');
  w.bulk('role').bulk('master');
  w.bulk('modules').arrayHeader(0);
}

function auth(s: Session, a: Buffer[]): void {
  if (a.length > 3) throw new RespError(SYNTAX);
  const user = a.length === 3 ? str(a[1]!) : 'default';
  const pass = str(a[a.length - 1]!);
  if (a.length === 2 && s.cfg.password === undefined) {
    throw new RespError('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
  }
  if (!s.checkPassword(user, pass)) throw new RespError('WRONGPASS invalid username-password pair or user is disabled.');
  s.setAuthenticated(user);
  s.w.simple('OK');
}

function ping(s: Session, a: Buffer[]): void {
  if (a.length > 2) throw new RespError("ERR wrong number of arguments for 'ping' command");
  if (s.protocol === 2 && s.subscriptionCount > 0) {
    s.w.arrayHeader(2).bulk('pong').bulk(a.length === 2 ? a[1]! : '');
    return;
  }
  if (a.length === 2) s.w.bulk(a[1]!);
  else s.w.simple('PONG');
}

function checkName(b: Buffer): string {
  for (const c of b) if (c < 33 || c > 126) throw new RespError('ERR Client names cannot contain spaces, newlines or special characters.');
  return b.toString('latin1');
}

function client(s: Session, a: Buffer[]): void {
  const sub = kw(a[1]!);
  const w = s.w;
  switch (sub) {
    case 'id':
      w.integer(s.id);
      return;
    case 'setname':
      if (a.length !== 3) throw new RespError("ERR wrong number of arguments for 'client|setname' command");
      s.name = checkName(a[2]!);
      w.simple('OK');
      return;
    case 'getname':
      if (s.name === '') w.nullBulk();
      else w.bulk(s.name);
      return;
    case 'setinfo': {
      if (a.length !== 4) throw new RespError("ERR wrong number of arguments for 'client|setinfo' command");
      const attr = kw(a[2]!);
      const v = a[3]!.toString('latin1');
      if (attr === 'lib-name') s.libName = v;
      else if (attr === 'lib-ver') s.libVer = v;
      else throw new RespError(`ERR Unrecognized option '${a[2]!.toString('utf8')}'`);
      w.simple('OK');
      return;
    }
    case 'list': {
      let text = '';
      for (const c of s.broker.sessions) text += c.describe() + '\n';
      w.verbatim(text);
      return;
    }
    case 'info':
      w.verbatim(s.describe() + '\n');
      return;
    case 'kill': {
      if (a.length === 4 && kw(a[2]!) === 'id') {
        const id = int(a[3]!);
        for (const c of s.broker.sessions) {
          if (c.id === id && c !== s) {
            (c as Session).close();
            w.integer(1);
            return;
          }
        }
        w.integer(0);
        return;
      }
      throw new RespError(SYNTAX);
    }
    case 'no-evict':
    case 'no-touch':
      w.simple('OK');
      return;
    case 'help':
      w.arrayHeader(1).simple('CLIENT <subcommand> [<arg> ...]. Subcommands are: ID SETNAME GETNAME SETINFO LIST INFO KILL NO-EVICT NO-TOUCH');
      return;
    default:
      throw new RespError(`ERR unknown subcommand '${a[1]!.toString('utf8')}'. Try CLIENT HELP.`);
  }
}

function infoText(s: Session, sections: string[]): string {
  const b = s.broker;
  const want = (name: string): boolean => sections.length === 0 || sections.includes('all') || sections.includes('everything') || sections.includes('default') || sections.includes(name);
  const mem = process.memoryUsage();
  const up = Math.floor((Date.now() - b.startedAt) / 1000);
  const out: string[] = [];
  if (want('server')) {
    out.push(
      '# Server',
      `redis_version:${REDIS_VERSION}`,
      'redis_git_sha1:00000000',
      'redis_git_dirty:0',
      'redis_mode:standalone',
      'omnibus:1',
      `os:${os.type()} ${os.release()} ${os.arch()}`,
      'arch_bits:64',
      `process_id:${process.pid}`,
      `tcp_port:${s.socket.localPort ?? 0}`,
      `uptime_in_seconds:${up}`,
      `uptime_in_days:${Math.floor(up / 86400)}`,
      'executable:omnibus',
      '',
    );
  }
  if (want('clients')) {
    let blocked = 0;
    let pubsub = 0;
    for (const c of b.sessions) {
      const x = c as Session;
      if (x.blocked) blocked++;
      if (x.subscriptionCount > 0) pubsub++;
    }
    out.push('# Clients', `connected_clients:${b.sessions.size}`, 'maxclients:10000', `blocked_clients:${blocked}`, `pubsub_clients:${pubsub}`, '');
  }
  if (want('memory')) {
    out.push(
      '# Memory',
      `used_memory:${mem.heapUsed}`,
      `used_memory_human:${(mem.heapUsed / 1048576).toFixed(2)}M`,
      `used_memory_rss:${mem.rss}`,
      `used_memory_peak:${mem.heapTotal}`,
      // The keyspace bound (strings/hashes/sets/zsets); lists and streams live on disk.
      `maxmemory:${b.kv.maxBytes}`,
      `maxmemory_human:${(b.kv.maxBytes / 1048576).toFixed(2)}M`,
      `omnibus_keyspace_used_bytes:${b.kv.used}`,
      'maxmemory_policy:noeviction',
      'mem_fragmentation_ratio:1.00',
      '',
    );
  }
  if (want('persistence')) {
    const persistent = b.engine.storage.persistent;
    out.push('# Persistence', 'loading:0', 'async_loading:0', 'rdb_changes_since_last_save:0', 'rdb_bgsave_in_progress:0', `aof_enabled:${persistent ? 1 : 0}`, 'aof_rewrite_in_progress:0', '');
  }
  if (want('stats')) {
    out.push(
      '# Stats',
      `total_connections_received:${b.totalConnections}`,
      `total_commands_processed:${b.totalCommands}`,
      `rejected_connections:${b.rejectedConnections}`,
      `pubsub_channels:${b.hub.channels.size}`,
      `pubsub_patterns:${b.hub.patterns.size}`,
      '',
    );
  }
  if (want('replication')) out.push('# Replication', 'role:master', 'connected_slaves:0', 'master_repl_offset:0', '');
  if (want('cpu')) {
    const cpu = process.cpuUsage();
    out.push('# CPU', `used_cpu_sys:${(cpu.system / 1e6).toFixed(6)}`, `used_cpu_user:${(cpu.user / 1e6).toFixed(6)}`, '');
  }
  if (want('modules')) out.push('# Modules', '');
  if (want('cluster')) out.push('# Cluster', 'cluster_enabled:0', '');
  if (want('keyspace')) {
    const n = b.keys().length;
    out.push('# Keyspace');
    if (n > 0) out.push(`db0:keys=${n},expires=${b.kv.expiringCount},avg_ttl=0`);
    out.push('');
  }
  return out.join('\r\n');
}

function info(s: Session, a: Buffer[]): void {
  s.w.verbatim(infoText(s, a.slice(1).map(kw)));
}

function writeCommandInfo(s: Session, c: CommandSpec): void {
  const w = s.w;
  w.arrayHeader(10);
  w.bulk(c.name);
  w.integer(c.arity);
  w.setHeader(c.flags.length);
  for (const f of c.flags) w.simple(f);
  w.integer(c.firstKey);
  w.integer(c.lastKey);
  w.integer(c.step);
  w.setHeader(0);
  w.setHeader(0);
  w.arrayHeader(0);
  w.arrayHeader(0);
}

function command(s: Session, a: Buffer[]): void {
  const w = s.w;
  if (a.length === 1) {
    w.arrayHeader(COMMANDS.size);
    for (const c of COMMANDS.values()) writeCommandInfo(s, c);
    return;
  }
  const sub = kw(a[1]!);
  switch (sub) {
    case 'count':
      w.integer(COMMANDS.size);
      return;
    case 'info': {
      const names = a.length > 2 ? a.slice(2).map(kw) : [...COMMANDS.keys()];
      w.arrayHeader(names.length);
      for (const n of names) {
        const c = COMMANDS.get(n);
        if (c) writeCommandInfo(s, c);
        else w.nullArray();
      }
      return;
    }
    case 'list':
      w.arrayHeader(COMMANDS.size);
      for (const n of COMMANDS.keys()) w.bulk(n);
      return;
    case 'docs': {
      // Docs are optional for clients (redis-cli builds hints from them when present).
      const names = a.length > 2 ? a.slice(2).map(kw).filter((n) => COMMANDS.has(n)) : [];
      w.mapHeader(names.length);
      for (const n of names) {
        w.bulk(n);
        w.mapHeader(2).bulk('summary').bulk(`${n.toUpperCase()} as in Redis ${REDIS_VERSION}`).bulk('group').bulk('generic');
      }
      return;
    }
    case 'getkeys': {
      const c = a[2] ? COMMANDS.get(kw(a[2])) : undefined;
      if (!c || c.firstKey === 0) throw new RespError('ERR The command has no key arguments');
      const keys = a.slice(2);
      const last = c.lastKey < 0 ? keys.length + c.lastKey : c.lastKey;
      const out: Buffer[] = [];
      for (let i = c.firstKey; i <= last && i < keys.length; i += c.step) out.push(keys[i]!);
      w.arrayHeader(out.length);
      for (const k of out) w.bulk(k);
      return;
    }
    default:
      throw new RespError(`ERR unknown subcommand '${a[1]!.toString('utf8')}'. Try COMMAND HELP.`);
  }
}

const CONFIG: Record<string, string> = {
  'maxmemory-policy': 'noeviction',
  maxmemory: '0',
  save: '',
  appendonly: 'no',
  databases: '1',
  timeout: '0',
  'proto-max-bulk-len': String(512 * 1024 * 1024),
  'client-output-buffer-limit': 'normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60',
  'notify-keyspace-events': '',
  'lua-time-limit': '5000',
};

function config(s: Session, a: Buffer[]): void {
  const sub = kw(a[1]!);
  const w = s.w;
  if (sub === 'get') {
    if (a.length < 3) throw new RespError("ERR wrong number of arguments for 'config|get' command");
    const found = new Map<string, string>();
    for (const p of a.slice(2)) {
      const pat = kw(p);
      for (const [k, v] of Object.entries(CONFIG)) if (globMatch(pat, k)) found.set(k, v);
    }
    if (a.length > 2 && kw(a[2]!) === 'proto-max-bulk-len') found.set('proto-max-bulk-len', String(s.cfg.maxBulkLength));
    w.mapHeader(found.size);
    for (const [k, v] of found) w.bulk(k).bulk(v);
    return;
  }
  if (sub === 'set') {
    // Accepted and ignored: tests and tools set these; the engine's own settings govern.
    w.simple('OK');
    return;
  }
  if (sub === 'resetstat' || sub === 'rewrite') {
    w.simple('OK');
    return;
  }
  throw new RespError(`ERR unknown subcommand '${a[1]!.toString('utf8')}'. Try CONFIG HELP.`);
}


function select(s: Session, a: Buffer[]): void {
  const n = int(a[1]!);
  if (n !== 0) throw new RespError('ERR DB index is out of range');
  s.w.simple('OK');
}

function reset(s: Session): void {
  s.dropSubscriptions();
  s.unwatchAll();
  s.multi = null;
  s.multiError = false;
  s.name = '';
  s.setProtocol(2);
  if (s.authRequired) {
    s.authenticated = false;
    s.parser.authRequired = true;
  }
  s.user = 'default';
  s.w.simple('RESET');
}

async function flush(s: Session, a: Buffer[]): Promise<void> {
  if (a.length > 2 || (a.length === 2 && !['async', 'sync'].includes(kw(a[1]!)))) throw new RespError(SYNTAX);
  await s.broker.flushAll();
  s.w.simple('OK');
}

const commands: CommandSpec[] = [
  cmd('hello', -1, ['noscript', 'loading', 'stale', 'fast', 'no_auth'], NO_KEYS, hello, true),
  cmd('auth', -2, ['noscript', 'loading', 'stale', 'fast', 'no_auth'], NO_KEYS, auth, true),
  cmd('ping', -1, ['fast'], NO_KEYS, ping),
  cmd('echo', 2, ['fast'], NO_KEYS, (s, a) => void s.w.bulk(a[1]!)),
  cmd('select', 2, ['loading', 'stale', 'fast'], NO_KEYS, select),
  cmd('client', -2, ['admin', 'noscript', 'loading', 'stale'], NO_KEYS, client),
  cmd('info', -1, ['loading', 'stale'], NO_KEYS, info),
  cmd('command', -1, ['loading', 'stale'], NO_KEYS, command),
  cmd('config', -2, ['admin', 'noscript', 'loading', 'stale'], NO_KEYS, config),
  cmd(
    'quit',
    -1,
    ['noscript', 'loading', 'stale', 'fast', 'no_auth'],
    NO_KEYS,
    (s) => {
      s.w.simple('OK');
      s.closeAfterReply();
    },
    true,
  ),
  cmd('reset', 1, ['noscript', 'loading', 'stale', 'fast', 'no_auth'], NO_KEYS, reset, true),
  cmd('dbsize', 1, ['readonly', 'fast'], NO_KEYS, (s) => void s.w.integer(s.broker.keys().length)),
  cmd('flushdb', -1, ['write'], NO_KEYS, flush),
  cmd('flushall', -1, ['write'], NO_KEYS, flush),
  cmd('time', 1, ['loading', 'stale', 'fast'], NO_KEYS, (s) => {
    const us = BigInt(Date.now()) * 1000n + (process.hrtime.bigint() / 1000n) % 1000n;
    s.w.arrayHeader(2).bulk(String(us / 1000000n)).bulk(String(us % 1000000n));
  }),
  cmd('lastsave', 1, ['loading', 'stale', 'fast'], NO_KEYS, (s) => void s.w.integer(Math.floor(s.broker.startedAt / 1000))),
  cmd('readonly', 1, ['loading', 'stale', 'fast'], NO_KEYS, (s) => void s.w.simple('OK')),
  cmd('readwrite', 1, ['loading', 'stale', 'fast'], NO_KEYS, (s) => void s.w.simple('OK')),
];

export default commands;

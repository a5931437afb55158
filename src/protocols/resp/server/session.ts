/**
 * One RESP connection: socket → RespCommandParser → command table → ReplyWriter → socket.
 *
 * Turn model: on each 'data' event the session executes every complete command in order, writing
 * replies into one ReplyWriter, and hands the result to one `socket.write()` when the input is
 * exhausted (a pipeline of 1000 commands costs one syscall). A command that must wait (a publish
 * awaiting durability, a blocking BRPOP) is awaited before the next command runs — replies stay
 * in order — and replies produced before a *blocking* wait are flushed first.
 *
 * Pipelined writes (the in-flight window): LPUSH/RPUSH (and fused runs of them) and XADD do not
 * hold up the commands after them while they wait for the engine (a lock, an fsync). Each takes
 * its place in its key's FIFO lock synchronously when it starts, so a later command on the same
 * key still applies after it, and it answers into its own scratch writer; replies are moved to
 * the connection in command order as the oldest commands finish, so a reply still means the
 * write is durable and replies keep the order of the commands. With `--fsync always` the writes
 * of one pipeline thus share fsyncs (the storage flusher syncs everything appended before it
 * runs), as Redis's appendfsync always shares one fsync per event-loop turn; a pipeline of N
 * XADDs went from N fsyncs to a handful. Any other command (a read, MULTI/EXEC, a blocking pop,
 * WATCH, CLIENT, QUIT, RESET, a subscription change…) is a barrier: it waits until every
 * command in flight has answered, then runs as before, so a read sees the earlier writes of its
 * pipeline, durable. A list push and an XADD on one key are not in flight together (each checks
 * the other's type when it starts). At most MAX_IN_FLIGHT commands are in flight; then the
 * session stops executing, and reading once `maxPipelineBytes` are buffered.
 *
 * Bounds (a slow or hostile client must not make the broker buffer without limit):
 *  - output: once the socket holds more than `outputHighWater` unsent bytes the session stops
 *    executing commands and pauses reading until 'drain';
 *  - input: unparsed bytes above `maxPipelineBytes` while a command is waiting pause the socket
 *    (TCP pushes back on the client); the parser's own limits bound bulk and multibulk sizes;
 *  - pub/sub: a subscriber whose unsent output exceeds `pubsubOutputLimit` is disconnected, as
 *    Redis's client-output-buffer-limit pubsub does (Redis's default hard limit is 32 MiB).
 *
 * Protocol errors are answered `-ERR Protocol error: …` and the connection is closed after the
 * reply; other connections are unaffected.
 */
import type { Socket } from 'node:net';
import { RespCommandParser, ReplyWriter, ProtocolError } from '../index.js';
import type { Broker, SessionInfo } from './broker.js';
import { C_LIST, C_STREAM, hasNoMkStream, str } from './args.js';
import { COMMANDS, type CommandSpec } from './commands/index.js';
import { popRun, pushRun } from './commands/lists.js';
import { RespError } from './errors.js';
import type { BlockHandle } from './lists.js';
import type { PubSubSubscriber } from './pubsub.js';

export interface ServerConfig {
  readonly broker: Broker;
  /** Password of the `default` user (requirepass); undefined = no password. */
  readonly password: string | undefined;
  /** Named users (OMNIBUS_USERS). */
  readonly users: ReadonlyMap<string, string>;
  readonly maxBulkLength: number;
  readonly outputHighWater: number;
  readonly maxPipelineBytes: number;
  readonly pubsubOutputLimit: number;
  log(line: string): void;
}

const FLUSH_AT = 64 * 1024;
/** Idle entries of a session's in-flight key map kept for reuse (see #inFlightKeys). */
const KEPT_KEYS = 8;
/** A pop run's values: none (nextWithPrefix appends to it only for pushes, whose bulks > 0). */
const EMPTY: Buffer[] = [];
/** Most commands fused into one operation (bounds one run's reply and the values it holds). */
const MAX_RUN = 4096;

/**
 * Most pipelined writes awaiting the engine at once per connection (a fused run counts once).
 * Each holds its arguments and a reply slot of 256 bytes (a push's or an XADD's reply fits):
 * with 1 KiB values about 1.3 MiB per connection at the limit.
 */
export const MAX_IN_FLIGHT = 1024;

/** One pipelined write awaiting the engine; `w` is null for the oldest, which answers into `out`. */
interface InFlight {
  readonly key: string;
  readonly cls: number;
  readonly w: ReplyWriter | null;
  done: boolean;
}

/** `xadd` in any case. */
function isXadd(n: Buffer): boolean {
  return n.length === 4 && (n[0]! | 0x20) === 0x78 && (n[1]! | 0x20) === 0x61 && (n[2]! | 0x20) === 0x64 && (n[3]! | 0x20) === 0x64;
}

const K_LPUSH = 1;
const K_RPUSH = 2;
const K_LPOP = 3;
const K_RPOP = 4;

/** LPUSH/RPUSH with at least one value, LPOP/RPOP without a count, by their bytes (any case); else 0. */
function fusibleKind(a: Buffer[]): number {
  const n = a[0]!;
  const len = n.length;
  if (len !== 4 && len !== 5) return 0;
  const c0 = n[0]! | 0x20;
  if (c0 !== 0x6c && c0 !== 0x72) return 0; // l, r
  if ((n[1]! | 0x20) !== 0x70) return 0; // p
  const left = c0 === 0x6c;
  if (len === 5) {
    // push
    if ((n[2]! | 0x20) !== 0x75 || (n[3]! | 0x20) !== 0x73 || (n[4]! | 0x20) !== 0x68 || a.length < 3) return 0;
    return left ? K_LPUSH : K_RPUSH;
  }
  if ((n[2]! | 0x20) !== 0x6f || (n[3]! | 0x20) !== 0x70 || a.length !== 2) return 0;
  return left ? K_LPOP : K_RPOP;
}

/**
 * Replies of a turn are written once every connection that was readable in this event-loop
 * iteration has run its commands (a setImmediate, i.e. Node's check phase right after the poll
 * phase), as Redis writes its clients' replies in beforeSleep: the reads of one epoll batch are
 * not interleaved with writes that wake their peers one by one. Same number of write syscalls;
 * added latency: the rest of the current poll phase (no timer). A command that waits (a
 * durability wait, a blocking pop) ends its turn later and queues its flush then.
 */
const flushQueue: Session[] = [];
let flushScheduled = false;

function deferFlush(s: Session): void {
  if (s.out.pendingBytes === 0) return;
  if (s.flushQueued) return;
  s.flushQueued = true;
  flushQueue.push(s);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushAll);
  }
}

function flushAll(): void {
  flushScheduled = false;
  // Sessions queued while this runs (none: flush() does not execute commands) would wait for
  // the next iteration; the index loop sees them anyway.
  for (let i = 0; i < flushQueue.length; i++) {
    const s = flushQueue[i]!;
    s.flushQueued = false;
    s.flush();
  }
  flushQueue.length = 0;
}

/** `*<argc>\r\n` and the name and key as `$<len>\r\n<bytes>\r\n`: how a run's commands begin. */
function runPrefix(a: Buffer[]): Buffer {
  const name = a[0]!;
  const key = a[1]!;
  const h1 = `*${a.length}\r\n$${name.length}\r\n`;
  const h2 = `\r\n$${key.length}\r\n`;
  const out = Buffer.allocUnsafe(h1.length + name.length + h2.length + key.length + 2);
  let p = out.write(h1, 0, 'latin1');
  p += name.copy(out, p);
  p += out.write(h2, p, 'latin1');
  p += key.copy(out, p);
  out[p] = 13;
  out[p + 1] = 10;
  return out;
}

/** Buffer.equals without the native call (keys are short; the call dominated). */
function sameBytes(a: Buffer, b: Buffer): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

const SUBSCRIBED_OK = new Set(['subscribe', 'ssubscribe', 'sunsubscribe', 'psubscribe', 'unsubscribe', 'punsubscribe', 'ping', 'quit', 'reset']);
const MULTI_IMMEDIATE = new Set(['exec', 'discard', 'multi', 'watch', 'unwatch', 'quit', 'reset']);

export class Session implements PubSubSubscriber, SessionInfo {
  readonly id: number;
  /** The connection's writer (pub/sub pushes always go here). */
  readonly out = new ReplyWriter();
  /** Where command replies go: `out`, or a scratch writer while EXEC collects replies. */
  w: ReplyWriter = this.out;
  readonly parser: RespCommandParser;
  name = '';
  libName = '';
  libVer = '';
  authenticated: boolean;
  user = 'default';
  readonly channels = new Set<string>();
  readonly patterns = new Set<string>();
  readonly shardChannels = new Set<string>();
  multi: Buffer[][] | null = null;
  /** WATCHed keys, and whether one of them was modified since (EXEC then aborts). */
  readonly watching = new Set<string>();
  watchDirty = false;
  multiError = false;
  inExec = false;
  lastCommand = 'NULL';
  readonly createdAt = Date.now();
  lastActive = Date.now();
  blocked: BlockHandle | undefined;
  closed = false;
  /** Waiting in the end-of-iteration flush queue (see deferFlush). */
  flushQueued = false;
  #running = false;
  #flushQueued = false;
  #inputPaused = false;
  #closeAfterFlush = false;
  /** A parsed command not run yet (it ended a run of fused commands). */
  #pending: Buffer[] | ProtocolError | undefined;
  /** Pipelined writes awaiting the engine, oldest first (see the class comment). */
  readonly #inFlight: InFlight[] = [];
  /**
   * Keys of #inFlight: class and count. An entry whose count fell to 0 stays while the map is
   * small (a client writing to a few keys reuses them: no map insert and delete, which reallocate
   * the table as it empties and fills, per command); it counts as absent.
   */
  readonly #inFlightKeys = new Map<string, { cls: number; n: number }>();
  /** Scratch writers for in-flight replies, reused. */
  readonly #spareWriters: ReplyWriter[] = [];
  /** Wakes #drive when an in-flight write finished. */
  #onSettled: (() => void) | undefined;

  constructor(
    readonly cfg: ServerConfig,
    readonly socket: Socket,
    /** The listener hands reads to onData() itself (adoptSharedRead); else 'data' events do. */
    fed = false,
  ) {
    this.id = cfg.broker.nextClientId++;
    this.authenticated = !this.authRequired;
    this.parser = new RespCommandParser({ maxBulkLength: cfg.maxBulkLength });
    this.parser.authRequired = !this.authenticated;
    socket.setNoDelay(true);
    if (!fed) socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.#cleanup());
    cfg.broker.sessions.add(this);
    cfg.broker.totalConnections++;
  }

  get broker(): Broker {
    return this.cfg.broker;
  }

  get authRequired(): boolean {
    return this.cfg.password !== undefined || this.cfg.users.size > 0;
  }

  get protocol(): 2 | 3 {
    return this.out.protocol;
  }

  setProtocol(p: 2 | 3): void {
    this.out.protocol = p;
    this.w.protocol = p;
  }

  get subscriptionCount(): number {
    return this.channels.size + this.patterns.size + this.shardChannels.size;
  }

  setAuthenticated(user: string): void {
    this.authenticated = true;
    this.user = user;
    this.parser.authRequired = false;
  }

  /** Checks credentials; `user` undefined = the default user (AUTH with one argument). */
  checkPassword(user: string, pass: string): boolean {
    if (user === 'default') return this.cfg.password === undefined ? this.cfg.users.size === 0 : this.cfg.password === pass;
    const p = this.cfg.users.get(user);
    return p !== undefined && p === pass;
  }

  // --- input ------------------------------------------------------------------------------------

  /** One read of the connection's input. */
  onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastActive = Date.now();
    this.parser.push(chunk);
    if (this.#running) {
      if (this.parser.bufferedBytes > this.cfg.maxPipelineBytes && !this.#inputPaused) {
        this.#inputPaused = true;
        this.socket.pause();
      }
      return;
    }
    this.#drive().catch(this.#onDriveError);
  }

  async #drive(): Promise<void> {
    this.#running = true;
    try {
      for (;;) {
        if (this.closed || this.#closeAfterFlush) break;
        if (this.socket.writableLength > this.cfg.outputHighWater) {
          this.flush();
          await this.#waitDrain();
          continue;
        }
        let cmd = this.#pending;
        if (cmd !== undefined) this.#pending = undefined;
        else cmd = this.parser.next();
        if (cmd === undefined) break;
        if (cmd instanceof ProtocolError) {
          while (this.#inFlight.length > 0) await this.#settled();
          this.out.error(`ERR ${cmd.error}`);
          this.#closeAfterFlush = true;
          break;
        }
        // Another client's EXEC is running a command that awaits: do not interleave with it.
        while (this.broker.execBarrier && this.broker.execOwner !== this) await this.broker.execBarrier;
        const kind = this.#fusible(cmd);
        const key = this.#pipelineKey(kind, cmd);
        if (key === undefined) {
          // A barrier: everything in flight answers first.
          while (this.#inFlight.length > 0) await this.#settled();
          const r = kind === 0 ? this.execute(cmd) : this.#runFused(kind, cmd, undefined);
          if (r) await r;
        } else {
          const cls = kind === 0 ? C_STREAM : C_LIST;
          for (;;) {
            const held = this.#inFlightKeys.get(key);
            if (this.#inFlight.length < MAX_IN_FLIGHT && (held === undefined || held.n === 0 || held.cls === cls)) break;
            await this.#settled();
          }
          this.#startPipelined(kind, cmd, key, cls);
        }
        if (this.out.pendingBytes >= FLUSH_AT) this.flush();
      }
    } finally {
      this.#running = false;
    }
    if (this.#closeAfterFlush) {
      this.flush();
      this.socket.end();
      return;
    }
    this.#replyWhenDone();
    if (this.#inputPaused && !this.closed) {
      this.#inputPaused = false;
      this.socket.resume();
    }
  }

  /**
   * The key of a command that may run while earlier ones are in flight (a list push or fused
   * push run, an XADD without NOMKSTREAM, in the session's normal state), else undefined.
   */
  #pipelineKey(kind: number, a: Buffer[]): string | undefined {
    if (kind === K_LPUSH || kind === K_RPUSH) return str(a[1]!);
    if (kind !== 0 || !isXadd(a[0]!) || a.length < 5) return undefined;
    if (this.multi !== null || !this.authenticated || this.w !== this.out || this.subscriptionCount > 0 || hasNoMkStream(a)) return undefined;
    return str(a[1]!);
  }

  /** Runs a pipelinable write; it joins the in-flight window if it has to wait. */
  #startPipelined(kind: number, cmd: Buffer[], key: string, cls: number): void {
    const first = this.#inFlight.length === 0;
    const w = first ? null : this.#scratch();
    if (w !== null) this.w = w;
    let r: Promise<void> | undefined;
    try {
      r = kind === 0 ? this.execute(cmd) : this.#runFused(kind, cmd, key);
    } finally {
      this.w = this.out;
    }
    if (r === undefined && w === null) return; // answered already, straight into `out`
    const e: InFlight = { key, cls, w, done: r === undefined };
    this.#inFlight.push(e);
    const held = this.#inFlightKeys.get(key);
    if (held === undefined) this.#inFlightKeys.set(key, { cls, n: 1 });
    else if (held.n++ === 0) held.cls = cls;
    if (r !== undefined) {
      const done = (): void => {
        e.done = true;
        this.#advance();
      };
      r.then(done, (err: unknown) => {
        this.replyError(err, w ?? this.out);
        done();
      });
    }
  }

  #scratch(): ReplyWriter {
    const w = this.#spareWriters.pop() ?? new ReplyWriter({ slabSize: 256 });
    w.protocol = this.out.protocol;
    return w;
  }

  /** Moves the replies of the oldest finished in-flight writes to `out`, in command order. */
  #advance(): void {
    const q = this.#inFlight;
    let i = 0;
    while (i < q.length && q[i]!.done) {
      const e = q[i++]!;
      if (e.w !== null) {
        e.w.moveTo(this.out);
        if (this.#spareWriters.length < 64) this.#spareWriters.push(e.w);
      }
      const held = this.#inFlightKeys.get(e.key)!;
      if (--held.n === 0 && this.#inFlightKeys.size > KEPT_KEYS) this.#inFlightKeys.delete(e.key);
    }
    if (i === 0) return;
    q.splice(0, i);
    // The new oldest may still wait: it answers into its scratch writer, moved when it is done.
    const wake = this.#onSettled;
    this.#onSettled = undefined;
    if (wake !== undefined) wake();
    if (this.out.pendingBytes >= FLUSH_AT) this.flush();
    else this.#replyWhenDone();
  }

  /**
   * Writes what this connection has to say now if nothing else can join it, else at the end of
   * the event-loop iteration (deferFlush). Nothing can when this is the server's only connection,
   * no turn of its own is running (one would flush at its end) and no write is in flight (the
   * last to answer comes back here). Then deferring only cost time: ~0.5 µs of a ~31 µs
   * unpipelined round trip for the setImmediate, and for a file:// push, whose durability wait
   * resolves in the check phase, a whole extra iteration (one more epoll_pwait per push answered
   * one at a time).
   */
  #replyWhenDone(): void {
    if (!this.#running && this.#inFlight.length === 0 && this.broker.sessions.size === 1) this.flush();
    else deferFlush(this);
  }

  /** Resolves when an in-flight write finished. */
  #settled(): Promise<void> {
    return new Promise((resolve) => {
      const prev = this.#onSettled;
      this.#onSettled = prev === undefined ? resolve : () => (prev(), resolve());
    });
  }

  #waitDrain(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /**
   * Pipelined pushes and pops on one key are executed as one operation (see pushRun/popRun in
   * commands/lists.ts): a fusible command (LPUSH/RPUSH with values, LPOP/RPOP without a count,
   * outside MULTI and subscriptions, authenticated) is followed by every command already parsed
   * that has the same name and key; the first one that does not match is kept for the next turn.
   * Nothing is read ahead beyond what the client has sent, so latency is unchanged.
   */
  #fusible(a: Buffer[]): number {
    const k = fusibleKind(a);
    if (k === 0 || this.multi !== null || !this.authenticated || this.w !== this.out || this.subscriptionCount > 0) return 0;
    return k;
  }

  #runFused(kind: number, first: Buffer[], keyText: string | undefined): Promise<void> | undefined {
    const key = first[1]!;
    const push = kind === K_LPUSH || kind === K_RPUSH;
    const parser = this.parser;
    // The rest of the run usually repeats the first command's bytes up to its values: those
    // commands are matched by that prefix without an argument vector (see nextWithPrefix).
    // Nothing buffered (a lone command, the usual case without pipelining): no run to match, and
    // building the prefix (~1 µs) is skipped; nextWithPrefix() would find nothing anyway.
    const prefix = parser.bufferedBytes > 0 ? runPrefix(first) : undefined;
    const bulks = first.length - 2;
    const values: Buffer[] = push ? first.slice(2) : EMPTY;
    const counts: number[] | undefined = push ? [bulks] : undefined;
    let n = 1;
    while (n < MAX_RUN) {
      if (prefix !== undefined && parser.nextWithPrefix(prefix, bulks, values)) {
        n++;
        if (push) counts!.push(bulks);
        continue;
      }
      const next = parser.next();
      if (next === undefined) break;
      if (next instanceof ProtocolError || fusibleKind(next) !== kind || !sameBytes(next[1]!, key)) {
        this.#pending = next;
        break;
      }
      n++;
      if (push) {
        for (let i = 2; i < next.length; i++) values.push(next[i]!);
        counts!.push(next.length - 2);
      }
    }
    // A lone command goes the same way (its checks are #fusible's, the rest is what the
    // command's handler would do): no name lookup and no second slice of a push's values; the
    // key's text, when the in-flight window needed it, is not decoded again.
    const broker = this.broker;
    broker.totalCommands += n;
    const end = kind === K_LPUSH || kind === K_LPOP ? 'L' : 'R';
    this.lastCommand = kind === K_LPUSH ? 'lpush' : kind === K_RPUSH ? 'rpush' : kind === K_LPOP ? 'lpop' : 'rpop';
    const text = keyText ?? str(key);
    if (broker.watchers.size > 0) broker.touch(text);
    return push ? pushRun(this, end, text, values, counts!) : popRun(this, end, text, n);
  }

  /** Runs one command; returns a promise when it has to wait. */
  execute(args: Buffer[]): Promise<void> | undefined {
    const broker = this.broker;
    broker.totalCommands++;
    const name = args[0]!.toString('latin1').toLowerCase();
    const spec = COMMANDS.get(name);
    this.lastCommand = name;
    const w = this.w;
    if (!spec) {
      if (this.multi) this.multiError = true;
      let rest = '';
      for (let i = 1; i < args.length && rest.length < 128; i++) rest += `'${args[i]!.toString('utf8').slice(0, 128 - rest.length)}' `;
      w.error(`ERR unknown command '${args[0]!.toString('utf8').slice(0, 128)}', with args beginning with: ${rest}`);
      return undefined;
    }
    if ((spec.arity > 0 && args.length !== spec.arity) || args.length < -spec.arity) {
      if (this.multi) this.multiError = true;
      w.error(`ERR wrong number of arguments for '${name}' command`);
      return undefined;
    }
    if (!this.authenticated && !spec.noAuth) {
      if (this.multi) this.multiError = true;
      w.error('NOAUTH Authentication required.');
      return undefined;
    }
    if (this.protocol === 2 && this.subscriptionCount > 0 && !SUBSCRIBED_OK.has(name)) {
      w.error(`ERR Can't execute '${name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`);
      return undefined;
    }
    if (this.multi && !MULTI_IMMEDIATE.has(name)) {
      this.multi.push(args);
      w.simple('QUEUED');
      return undefined;
    }
    return this.run(spec, args);
  }

  /** Executes a command after the checks (EXEC calls this for queued commands). */
  run(spec: CommandSpec, args: Buffer[]): Promise<void> | undefined {
    const w = this.w;
    const broker = this.broker;
    if (spec.kv && spec.denyoom && broker.kv.overLimit) {
      w.error("OOM command not allowed when used memory > 'maxmemory'.");
      return undefined;
    }
    // List/stream writes flag watchers of the keys they name (keyspace commands do it themselves,
    // for real changes only).
    if (spec.write && !spec.kv && broker.watchers.size > 0 && spec.firstKey > 0) {
      const last = spec.lastKey < 0 ? args.length + spec.lastKey : spec.lastKey;
      for (let i = spec.firstKey; i <= last && i < args.length; i += spec.step) broker.touch(args[i]!.toString('utf8'));
    }
    try {
      const r = spec.handler(this, args);
      if (r) return r.catch((e: unknown) => this.replyError(e, w));
    } catch (e) {
      this.replyError(e, w);
    }
    return undefined;
  }

  /** Answers a failed command: a RespError as it is, anything else as `-ERR message`. */
  replyError(e: unknown, w: ReplyWriter): void {
    if (e instanceof RespError) w.error(e.message);
    else {
      const msg = e instanceof Error ? e.message : String(e);
      w.error(`ERR ${msg}`);
    }
  }

  // --- output -----------------------------------------------------------------------------------

  /** Sends everything written so far (one socket write, or one corked run of them: see ReplyWriter.writeTo). */
  flush(): void {
    if (this.out.pendingBytes === 0 || this.closed) return;
    this.out.writeTo(this.socket);
  }

  /** QUIT: reply, then close once it is sent. */
  closeAfterReply(): void {
    this.#closeAfterFlush = true;
  }

  #scheduleFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(() => {
      this.#flushQueued = false;
      this.flush();
    });
  }

  /** After an out-of-band write (pub/sub, wake-up): enforce the subscriber output limit and flush soon. */
  #afterPush(): void {
    if (this.socket.writableLength + this.out.pendingBytes > this.cfg.pubsubOutputLimit) {
      this.cfg.log(`resp: client ${this.id} (${this.socket.remoteAddress ?? '?'}) disconnected: pub/sub output buffer over ${this.cfg.pubsubOutputLimit} bytes`);
      this.out.discard();
      this.socket.destroy();
      this.#cleanup();
      return;
    }
    this.#scheduleFlush();
  }

  deliver(kind: 'message' | 'smessage', channel: string, message: Buffer): void {
    if (this.closed) return;
    const o = this.out;
    o.pushHeader(3);
    o.bulk(kind);
    o.bulk(Buffer.from(channel, 'latin1'));
    o.bulk(message);
    this.#afterPush();
  }

  deliverPattern(pattern: string, channel: string, message: Buffer): void {
    if (this.closed) return;
    const o = this.out;
    o.pushHeader(4);
    o.bulk('pmessage');
    o.bulk(Buffer.from(pattern, 'latin1'));
    o.bulk(Buffer.from(channel, 'latin1'));
    o.bulk(message);
    this.#afterPush();
  }

  // --- lifecycle --------------------------------------------------------------------------------

  /** Unsubscribes from everything (RESET, close). */
  unwatchAll(): void {
    this.broker.unwatch(this.watching, this);
    this.watching.clear();
    this.watchDirty = false;
  }

  dropSubscriptions(): void {
    const hub = this.broker.hub;
    for (const c of this.channels) hub.unsubscribe(hub.channels, c, this);
    for (const p of this.patterns) hub.unsubscribe(hub.patterns, p, this);
    for (const c of this.shardChannels) hub.unsubscribe(hub.shardChannels, c, this);
    this.channels.clear();
    this.patterns.clear();
    this.shardChannels.clear();
  }

  #cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropSubscriptions();
    this.unwatchAll();
    this.blocked?.cancel();
    this.blocked = undefined;
    this.broker.sessions.delete(this);
  }

  /** #fatal, bound once (a closure per 'data' event otherwise). */
  readonly #onDriveError = (e: unknown): void => this.#fatal(e);

  #fatal(e: unknown): void {
    this.cfg.log(`resp: client ${this.id} closed after an internal error: ${e instanceof Error ? e.message : String(e)}`);
    this.socket.destroy();
    this.#cleanup();
  }

  /** Ends the connection (listener shutdown). */
  close(): void {
    this.flush();
    this.socket.end();
    this.#cleanup();
  }

  describe(): string {
    const now = Date.now();
    const addr = `${this.socket.remoteAddress ?? ''}:${this.socket.remotePort ?? 0}`;
    const laddr = `${this.socket.localAddress ?? ''}:${this.socket.localPort ?? 0}`;
    const flags = this.blocked ? 'b' : this.subscriptionCount > 0 ? 'P' : this.multi ? 'x' : 'N';
    return (
      `id=${this.id} addr=${addr} laddr=${laddr} fd=-1 name=${this.name} age=${Math.floor((now - this.createdAt) / 1000)} ` +
      `idle=${Math.floor((now - this.lastActive) / 1000)} flags=${flags} db=0 sub=${this.channels.size} psub=${this.patterns.size} ` +
      `ssub=${this.shardChannels.size} multi=${this.multi ? this.multi.length : -1} qbuf=${this.parser.bufferedBytes} qbuf-free=0 ` +
      `argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=${this.socket.writableLength} tot-mem=0 events=r cmd=${this.lastCommand} ` +
      `user=${this.user} redir=-1 resp=${this.protocol} lib-name=${this.libName} lib-ver=${this.libVer}`
    );
  }
}

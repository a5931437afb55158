/**
 * Raw sockets (bad input closes only that connection, with an ERROR frame), version negotiation,
 * authentication, exclusive consumers, message groups, composite destinations, the
 * cross-protocol mapping (/queue/q = engine topic q, group 'default'), and durability over file
 * storage (persistent messages and a durable subscription survive a restart).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Engine } from '../../../src/engine/engine.js';
import { FileStorage } from '../../../src/engine/storage/file/index.js';
import { DEFAULT_GROUP } from '../../../src/engine/topic.js';
import { StompParser, header, type StompFrame } from '../../../src/protocols/stomp/codec/index.js';
import { RawClient, sleep, startBroker, waitFor } from './helpers.js';

/** Sends bytes on a raw socket and collects the frames until the server closes it. */
function rawExchange(port: number, bytes: Buffer[], ms = 3000): Promise<StompFrame[]> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const p = new StompParser();
    p.version = '1.2';
    const frames: StompFrame[] = [];
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('server did not close the connection'));
    }, ms);
    s.on('connect', () => {
      for (const b of bytes) s.write(b);
    });
    s.on('data', (d) => p.push(d, (f) => frames.push(f)));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(t);
      resolve(frames);
    });
  });
}

test('garbage, oversize frames and unknown commands get an ERROR and a close; other connections are unaffected', async () => {
  const b = await startBroker({ limits: { maxBodyBytes: 1024 } });
  try {
    const good = await RawClient.connect(b.port);
    await good.receipt('SUBSCRIBE', [['destination', '/queue/survivor'], ['id', '1']]);

    const garbage = await rawExchange(b.port, [Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01])]);
    assert.equal(garbage.length, 1);
    assert.equal(garbage[0]!.command, 'ERROR');
    assert.match(header(garbage[0]!, 'message')!, /not a STOMP command/);

    const connect = Buffer.from('CONNECT\naccept-version:1.2\n\n\x00');
    const big = await rawExchange(b.port, [connect, Buffer.from('SEND\ndestination:/queue/x\ncontent-length:5000\nreceipt:r1\n\n'), Buffer.alloc(5000, 1), Buffer.from([0])]);
    assert.deepEqual(
      big.map((f) => f.command),
      ['CONNECTED', 'ERROR'],
    );
    assert.match(header(big[1]!, 'message')!, /content-length 5000 is larger than the limit of 1024/);

    const unknown = await rawExchange(b.port, [connect, Buffer.from('FROB\nreceipt:r9\n\n\x00')]);
    assert.equal(unknown[1]!.command, 'ERROR');
    assert.equal(header(unknown[1]!, 'receipt-id'), 'r9');
    assert.match(header(unknown[1]!, 'message')!, /Unknown STOMP action: FROB/);

    const early = await rawExchange(b.port, [Buffer.from('SEND\ndestination:/queue/x\n\nhi\x00')]);
    assert.match(header(early[0]!, 'message')!, /before CONNECT/);

    const noVersion = await rawExchange(b.port, [Buffer.from('CONNECT\naccept-version:2.0\n\n\x00')]);
    assert.equal(header(noVersion[0]!, 'version'), '1.0,1.1,1.2');

    // An HTTP request that is not a WebSocket upgrade gets an HTTP answer, not a STOMP one.
    const http = await new Promise<string>((resolve) => {
      const s = net.connect(b.port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
      let out = '';
      s.on('data', (d) => (out += d.toString()));
      s.on('close', () => resolve(out));
    });
    assert.match(http, /^HTTP\/1\.1 426/);

    good.frame('SEND', [['destination', '/queue/survivor']], 'still here');
    assert.equal((await good.next('MESSAGE')).body.toString(), 'still here');
    good.close();
  } finally {
    await b.close();
  }
});

test('1.0 sends header values raw; 1.1 escapes; CONNECTED is never escaped', async () => {
  const b = await startBroker();
  try {
    for (const v of ['1.0', '1.1'] as const) {
      const c = await RawClient.connect(b.port, [], v);
      await c.receipt('SUBSCRIBE', [['destination', `/queue/esc${v}`], ['id', 's']]);
      c.frame('SEND', [['destination', `/queue/esc${v}`], ['k', v === '1.0' ? 'a:b' : 'a:b\\c']]);
      const m = await c.next('MESSAGE');
      assert.equal(header(m, 'k'), v === '1.0' ? 'a:b' : 'a:b\\c');
      c.close();
    }
  } finally {
    await b.close();
  }
});

test('OMNIBUS_USERS-style users: wrong passcode is refused, right one accepted', async () => {
  const b = await startBroker({ users: new Map([['alice', 'pw:1']]) });
  try {
    const bad = await rawExchange(b.port, [Buffer.from('CONNECT\naccept-version:1.2\nlogin:alice\npasscode:nope\n\n\x00')]);
    assert.equal(bad[0]!.command, 'ERROR');
    const ok = await RawClient.connect(b.port, [
      ['login', 'alice'],
      ['passcode', 'pw:1'],
    ]);
    ok.close();
  } finally {
    await b.close();
  }
});

test('exclusive consumer: only the first exclusive subscriber receives; the next takes over when it leaves', async () => {
  const b = await startBroker();
  try {
    const a = await RawClient.connect(b.port);
    const c = await RawClient.connect(b.port);
    await a.receipt('SUBSCRIBE', [['destination', '/queue/ex'], ['id', '1'], ['activemq.exclusive', 'true']]);
    await c.receipt('SUBSCRIBE', [['destination', '/queue/ex'], ['id', '1'], ['activemq.exclusive', 'true']]);
    for (let i = 0; i < 4; i++) a.frame('SEND', [['destination', '/queue/ex']], String(i));
    await waitFor(() => a.messages().length === 4);
    await sleep(50);
    assert.equal(c.messages().length, 0);
    a.close();
    await sleep(50);
    a.frame('SEND', [['destination', '/queue/ex']], 'x');
    const p = await RawClient.connect(b.port);
    p.frame('SEND', [['destination', '/queue/ex']], 'after');
    await waitFor(() => c.messages().some((m) => m.body.toString() === 'after'));
    p.close();
    c.close();
  } finally {
    await b.close();
  }
});

test('message groups: all messages of a JMSXGroupID go to one consumer, in order', async () => {
  const b = await startBroker();
  try {
    const c1 = await RawClient.connect(b.port);
    const c2 = await RawClient.connect(b.port);
    for (const c of [c1, c2]) await c.receipt('SUBSCRIBE', [['destination', '/queue/grp'], ['id', '1'], ['ack', 'client-individual'], ['activemq.prefetchSize', '2']]);
    const p = await RawClient.connect(b.port);
    for (let i = 0; i < 6; i++) for (const g of ['A', 'B', 'C']) p.frame('SEND', [['destination', '/queue/grp'], ['JMSXGroupID', g]], `${g}${i}`);
    await p.receipt('SEND', [['destination', '/queue/grp']], 'ungrouped');
    const owner = new Map<string, RawClient>();
    const order = new Map<string, string[]>();
    // Ack as they come until all 19 are seen.
    const acked = new Set<StompFrame>();
    await waitFor(() => {
      for (const c of [c1, c2]) {
        for (const m of c.messages()) {
          if (acked.has(m)) continue;
          acked.add(m);
          const g = header(m, 'JMSXGroupID');
          if (g !== undefined) {
            const o = owner.get(g);
            if (o === undefined) owner.set(g, c);
            else assert.equal(o, c, `group ${g} went to two consumers`);
            order.set(g, [...(order.get(g) ?? []), m.body.toString()]);
          }
          c.frame('ACK', [['id', header(m, 'ack')!]]);
        }
      }
      return acked.size === 19;
    });
    for (const g of ['A', 'B', 'C']) assert.deepEqual(order.get(g), [0, 1, 2, 3, 4, 5].map((i) => `${g}${i}`));
    assert.ok(new Set(owner.values()).size === 2, 'groups are spread over both consumers');
    for (const c of [c1, c2, p]) c.close();
  } finally {
    await b.close();
  }
});

test('composite destinations: SEND to /queue/ca,cb,/topic/t reaches both queues and the topic; SUBSCRIBE to two queues', async () => {
  const b = await startBroker();
  try {
    const c = await RawClient.connect(b.port);
    await c.receipt('SUBSCRIBE', [['destination', '/topic/t'], ['id', 't']]);
    await c.receipt('SEND', [['destination', '/queue/ca,cb,/topic/t']], 'everywhere');
    const tm = await c.next('MESSAGE');
    assert.equal(header(tm, 'destination'), '/topic/t');
    await c.receipt('SUBSCRIBE', [['destination', '/queue/ca,/queue/cb'], ['id', 'q']]);
    await waitFor(() => c.messages().filter((m) => header(m, 'subscription') === 'q').length === 2);
    const dests = c
      .messages()
      .filter((m) => header(m, 'subscription') === 'q')
      .map((m) => header(m, 'destination'))
      .sort();
    assert.deepEqual(dests, ['/queue/ca', '/queue/cb']);
    c.close();
  } finally {
    await b.close();
  }
});

test('cross-protocol: SEND /queue/q is engine topic q group default; engine.publish reaches a STOMP subscriber', async () => {
  const b = await startBroker();
  try {
    const c = await RawClient.connect(b.port);
    await c.receipt('SEND', [['destination', '/queue/xq'], ['color', 'red'], ['persistent', 'true']], 'from stomp');
    const d = await (await b.engine.group('xq', DEFAULT_GROUP)).get();
    assert.ok(d);
    assert.equal(d.body.toString(), 'from stomp');
    assert.equal(d.headers['color'], 'red');
    await d.ack();

    await b.engine.publish('xq2', [{ body: Buffer.from('from engine'), headers: { origin: 'engine' }, timestamp: Date.now(), priority: 0 }]);
    await c.receipt('SUBSCRIBE', [['destination', '/queue/xq2'], ['id', '1']]);
    const m = await c.next('MESSAGE');
    assert.equal(m.body.toString(), 'from engine');
    assert.equal(header(m, 'origin'), 'engine');
    assert.equal(header(m, 'destination'), '/queue/xq2');
    assert.match(header(m, 'message-id')!, /^ID:xq2:/);

    // Topics ride on amq.topic: an engine exchange publish reaches a STOMP topic subscriber.
    await c.receipt('SUBSCRIBE', [['destination', '/topic/sensors.*'], ['id', '2']]);
    await b.engine.exchanges.publish('amq.topic', 'sensors.t1', [{ body: Buffer.from('21.5'), timestamp: Date.now(), priority: 0 }]);
    const t = await c.next('MESSAGE');
    assert.equal(t.body.toString(), '21.5');
    assert.equal(header(t, 'subscription'), '2');
    c.close();
  } finally {
    await b.close();
  }
});

test('file storage: persistent messages and a durable subscription survive a restart', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'omnibus-stomp-'));
  const open = async () => Engine.open({ storage: await FileStorage.open(dir), fsync: 'always' });
  try {
    let b = await startBroker({ engine: await open() });
    let c = await RawClient.connect(b.port, [['client-id', 'dur']]);
    await c.receipt('SUBSCRIBE', [['destination', '/topic/orders.>'], ['id', '1'], ['activemq.subscriptionName', 'audit'], ['ack', 'client-individual']]);
    c.frame('DISCONNECT', [['receipt', 'bye']]);
    await c.next('RECEIPT');
    const p = await RawClient.connect(b.port);
    await p.receipt('SEND', [['destination', '/queue/keep'], ['persistent', 'true']], 'queued');
    await p.receipt('SEND', [['destination', '/topic/orders.new'], ['persistent', 'true']], 'order 1');
    p.close();
    await b.close();

    b = await startBroker({ engine: await open() });
    c = await RawClient.connect(b.port, [['client-id', 'dur']]);
    await c.receipt('SUBSCRIBE', [['destination', '/queue/keep'], ['id', 'q']]);
    await c.receipt('SUBSCRIBE', [['destination', '/topic/orders.>'], ['id', '1'], ['activemq.subscriptionName', 'audit'], ['ack', 'client-individual']]);
    await waitFor(() => c.messages().length === 2);
    const bodies = c
      .messages()
      .map((m) => m.body.toString())
      .sort();
    assert.deepEqual(bodies, ['order 1', 'queued']);
    // After the restart the binding still routes new messages to the durable subscription.
    const p2 = await RawClient.connect(b.port);
    await p2.receipt('SEND', [['destination', '/topic/orders.paid']], 'order 2');
    await waitFor(() => c.messages().length === 3);
    p2.close();
    c.close();
    await b.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a silent client that promised heart-beats is disconnected; client-id is unique among live connections', async () => {
  const b = await startBroker({ minHeartbeatMs: 50 });
  try {
    const c = await RawClient.connect(b.port, [
      ['heart-beat', '60,0'],
      ['client-id', 'only-one'],
    ]);
    const connected = c.frames[0]!;
    assert.equal(header(connected, 'heart-beat'), '0,60');
    const dup = await rawExchange(b.port, [Buffer.from('CONNECT\naccept-version:1.2\nclient-id:only-one\n\n\x00')]);
    assert.match(header(dup[0]!, 'message')!, /already connected/);
    await waitFor(() => c.closed, 2000);
    const err = c.frames.find((f) => f.command === 'ERROR');
    assert.match(header(err!, 'message')!, /no data or heart-beat/);
    // The id is free again.
    const again = await RawClient.connect(b.port, [['client-id', 'only-one']]);
    again.close();
  } finally {
    await b.close();
  }
});

test('STOMP 1.0: SUBSCRIBE without id uses the destination; UNSUBSCRIBE by destination', async () => {
  const b = await startBroker();
  try {
    const c = await RawClient.connect(b.port, [], '1.0');
    await c.receipt('SUBSCRIBE', [['destination', '/queue/old']]);
    c.frame('SEND', [['destination', '/queue/old']], 'x');
    const m = await c.next('MESSAGE');
    assert.equal(header(m, 'subscription'), '/queue/old');
    await c.receipt('UNSUBSCRIBE', [['destination', '/queue/old']]);
    c.close();
  } finally {
    await b.close();
  }
});

test('a slow auto-ack subscriber of a file-backed queue receives every 10 KiB body intact while the queue is read through recycled slabs', async () => {
  const N = 1500;
  const body = (i: number): Buffer => {
    const b = Buffer.alloc(10 * 1024, 0x21 + (i % 90));
    b.writeUInt32BE(i, 0);
    return b;
  };
  const dir = await mkdtemp(path.join(tmpdir(), 'omnibus-stomp-pinned-'));
  // A small write cache: the queue's backlog is read back from the segment files.
  const engine = await Engine.open({ storage: new FileStorage(dir, { cacheBytes: 256 * 1024 }), fsync: 'never' });
  const b = await startBroker({ engine });
  try {
    const sub = await RawClient.connect(b.port);
    await sub.receipt('SUBSCRIBE', [['id', 's1'], ['destination', '/queue/pinned'], ['ack', 'auto']]);
    // Not reading: the broker's MESSAGE frames queue in its socket.
    sub.socket.pause();
    const pub = await RawClient.connect(b.port);
    for (let i = 0; i < N; i++) pub.frame('SEND', [['destination', '/queue/pinned'], ['persistent', 'true'], ['content-length', String(10 * 1024)]], body(i));
    await pub.receipt('SEND', [['destination', '/queue/other']], 'x');
    sub.socket.resume();
    await waitFor(() => sub.messages().length >= N, 30_000);
    const got = sub.messages();
    let wrong = 0;
    for (let i = 0; i < N; i++) if (!Buffer.from(got[i]!.body).equals(body(i))) wrong++;
    assert.equal(wrong, 0, `${wrong} of ${N} bodies arrived with other bytes`);
    assert.ok((engine.storage as FileStorage).readPool.reused > 0, 'the backlog was read through recycled slabs');
    pub.close();
    sub.close();
  } finally {
    await b.close();
    await rm(dir, { recursive: true, force: true });
  }
});

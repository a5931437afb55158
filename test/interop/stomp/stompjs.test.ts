/**
 * @stomp/stompjs 7 against the STOMP listener, over WebSocket (`ws`, ws://host:port/stomp on the
 * same port as TCP) and over TCP (@stomp/tcp-wrapper). Each case runs on both transports:
 * receipts, header escaping in 1.2 (colon, newline, backslash), binary bodies with NULs via
 * content-length, priorities, scheduled delay, expires, temp-queue request/reply, heart-beats.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { Client, type IMessage, type IStompSocket } from '@stomp/stompjs';
import { TCPWrapper } from '@stomp/tcp-wrapper';
import { startBroker, sleep, waitFor, type Broker } from './helpers.js';
import type { StompConnection } from '../../../src/protocols/stomp/session/connection.js';

type Kind = 'ws' | 'tcp';

async function connect(b: Broker, kind: Kind, extra: Partial<ConstructorParameters<typeof Client>[0]> = {}, log?: string[]): Promise<Client> {
  const client = new Client({
    webSocketFactory: () =>
      (kind === 'ws' ? new WebSocket(`ws://127.0.0.1:${b.port}/stomp`, ['v12.stomp', 'v11.stomp', 'v10.stomp']) : new TCPWrapper('127.0.0.1', b.port)) as unknown as IStompSocket,
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    debug: (s) => log?.push(s),
    ...extra,
  });
  const connected = new Promise<void>((resolve, reject) => {
    client.onConnect = () => resolve();
    client.onStompError = (f) => reject(new Error(f.headers['message']));
    client.onWebSocketError = (e) => reject(new Error(`socket error ${String(e)}`));
  });
  client.activate();
  await connected;
  return client;
}

function receipt(c: Client, id: string): Promise<void> {
  return new Promise((resolve) => c.watchForReceipt(id, () => resolve()));
}

for (const kind of ['ws', 'tcp'] as const) {
  test(`stompjs/${kind}: receipts, 1.2 header escaping, binary bodies with NULs`, async () => {
    const b = await startBroker();
    const c = await connect(b, kind);
    try {
      const got: IMessage[] = [];
      const subReceipt = receipt(c, 'sub-1');
      c.subscribe('/queue/esc', (m) => got.push(m), { receipt: 'sub-1' });
      await subReceipt;
      const sendReceipt = receipt(c, 'send-1');
      const bin = new Uint8Array([0, 1, 0, 2, 255, 0]);
      c.publish({ destination: '/queue/esc', headers: { weird: 'a:b\nc\\d', receipt: 'send-1' }, body: 'text' });
      await sendReceipt;
      c.publish({ destination: '/queue/esc', binaryBody: bin, headers: { 'content-type': 'application/octet-stream' } });
      await waitFor(() => got.length === 2);
      assert.equal(got[0]!.headers['weird'], 'a:b\nc\\d');
      assert.equal(got[0]!.body, 'text');
      assert.deepEqual(new Uint8Array(got[1]!.binaryBody), bin);
      assert.equal(got[1]!.headers['content-length'], '6');
    } finally {
      await c.deactivate();
      await b.close();
    }
  });

  test(`stompjs/${kind}: priorities, AMQ_SCHEDULED_DELAY, expires`, async () => {
    const b = await startBroker();
    const c = await connect(b, kind);
    try {
      // Queue up first, then consume: the highest priority comes first.
      for (const [body, p] of [['low', '1'], ['high', '9'], ['mid', '5']] as const) c.publish({ destination: '/queue/prio', body, headers: { priority: p } });
      c.publish({ destination: '/queue/prio', body: 'expired', headers: { expires: String(Date.now() - 1000) } });
      const r = receipt(c, 'sent');
      c.publish({ destination: '/queue/prio', body: 'delayed', headers: { AMQ_SCHEDULED_DELAY: '400', receipt: 'sent' } });
      await r;
      const got: [string, string, number][] = [];
      const t0 = Date.now();
      c.subscribe('/queue/prio', (m) => got.push([m.body, m.headers['priority']!, Date.now() - t0]));
      await waitFor(() => got.length === 4);
      assert.deepEqual(
        got.map((g) => [g[0], g[1]]),
        [
          ['high', '9'],
          ['mid', '5'],
          ['low', '1'],
          ['delayed', '4'],
        ],
      );
      assert.ok(got[3]![2] >= 250, `delayed message arrived after ${got[3]![2]} ms`);
      await sleep(100);
      assert.equal(got.length, 4, 'the expired message is never delivered');
    } finally {
      await c.deactivate();
      await b.close();
    }
  });

  test(`stompjs/${kind}: temp-queue request/reply`, async () => {
    const b = await startBroker();
    const requester = await connect(b, kind);
    const responder = await connect(b, kind);
    try {
      responder.subscribe('/queue/rpc', (m) => {
        responder.publish({ destination: m.headers['reply-to']!, body: m.body.toUpperCase(), headers: { 'correlation-id': m.headers['correlation-id']! } });
      });
      const replies: IMessage[] = [];
      const r = receipt(requester, 'tq');
      requester.subscribe('/temp-queue/replies', (m) => replies.push(m), { receipt: 'tq' });
      await r;
      requester.publish({ destination: '/queue/rpc', body: 'ping', headers: { 'reply-to': '/temp-queue/replies', 'correlation-id': 'c-1' } });
      await waitFor(() => replies.length === 1);
      assert.equal(replies[0]!.body, 'PING');
      assert.equal(replies[0]!.headers['correlation-id'], 'c-1');
      const tempName = b.engine.topicNames().find((n) => n.startsWith('stomp-temp-queue:'));
      assert.ok(tempName);
      await requester.deactivate();
      await waitFor(() => !b.engine.topicNames().includes(tempName), 3000);
    } finally {
      await requester.deactivate();
      await responder.deactivate();
      await b.close();
    }
  });

  test(`stompjs/${kind}: heart-beats both ways keep an idle connection open`, async () => {
    const b = await startBroker({ minHeartbeatMs: 50 });
    const log: string[] = [];
    const c = await connect(b, kind, { heartbeatIncoming: 100, heartbeatOutgoing: 100 }, log);
    try {
      await sleep(700);
      assert.ok(c.connected, 'still connected');
      assert.ok(log.filter((l) => l === '<<< PONG').length >= 3, 'server heart-beats arrived');
      const conn = [...b.server.broker.connections][0] as StompConnection;
      assert.ok(conn.parser.heartbeats >= 3, `server saw ${conn.parser.heartbeats} client heart-beats`);
    } finally {
      await c.deactivate();
      await b.close();
    }
  });
}

test('stompjs/ws: transactions with begin/commit/abort and NACK', async () => {
  const b = await startBroker({ maxRedeliveries: 1 });
  const c = await connect(b, 'ws');
  try {
    const got: IMessage[] = [];
    c.subscribe('/queue/jtx', (m) => got.push(m), { ack: 'client-individual' });
    const t1 = c.begin();
    c.publish({ destination: '/queue/jtx', body: 'no', headers: { transaction: t1.id } });
    t1.abort();
    const t2 = c.begin();
    c.publish({ destination: '/queue/jtx', body: 'yes', headers: { transaction: t2.id } });
    t2.commit();
    await waitFor(() => got.length === 1);
    got[0]!.nack();
    await waitFor(() => got.length === 2);
    assert.equal(got[1]!.headers['redelivered'], 'true');
    got[1]!.nack();
    const dlq: IMessage[] = [];
    c.subscribe('/queue/ActiveMQ.DLQ', (m) => dlq.push(m));
    await waitFor(() => dlq.length === 1);
    assert.deepEqual(
      got.map((m) => m.body),
      ['yes', 'yes'],
    );
    assert.equal(dlq[0]!.body, 'yes');
  } finally {
    await c.deactivate();
    await b.close();
  }
});

/**
 * Errors as RabbitMQ gives them, seen through amqplib: channel-level 404/405/406/403 close only
 * the channel (the connection stays usable); connection-level errors close the connection; the
 * broker keeps serving others. Authentication failures are 403 ACCESS_REFUSED.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { startBroker, type Broker } from './helpers.js';

let b: Broker;
before(async () => {
  b = await startBroker({ users: new Map([['guest', 'guest'], ['alice', 's3cret:x']]) });
});
after(async () => {
  await b.close();
});

/** Runs `op` on a fresh channel, expecting the server to close that channel with `code`. */
async function expectChannelError(conn: amqp.Connection, code: number, op: (ch: amqp.Channel) => Promise<unknown>): Promise<string> {
  const ch = await conn.createChannel();
  const closed = new Promise<Error>((res) => ch.on('error', res));
  await assert.rejects(op(ch), (e: { code?: number }) => e.code === code);
  const e = await closed;
  return e.message;
}

test('passive declare of a missing queue or exchange is 404 and only the channel closes', async () => {
  const conn = await amqp.connect(b.url);
  const msg = await expectChannelError(conn, 404, (ch) => ch.checkQueue('no-such-q'));
  assert.match(msg, /NOT_FOUND - no queue 'no-such-q' in vhost '\/'/);
  await expectChannelError(conn, 404, (ch) => ch.checkExchange('no-such-x'));
  await expectChannelError(conn, 404, (ch) => ch.bindQueue('no-such-q', 'amq.direct', 'k'));
  const ch = await conn.createChannel();
  await ch.assertQueue('still-fine');
  await conn.close();
});

test('redeclare with different arguments or flags is 406 PRECONDITION_FAILED', async () => {
  const conn = await amqp.connect(b.url);
  const ch = await conn.createChannel();
  await ch.assertQueue('args-q', { durable: true, arguments: { 'x-message-ttl': 1000 } });
  const msg = await expectChannelError(conn, 406, (c) => c.assertQueue('args-q', { durable: true, arguments: { 'x-message-ttl': 2000 } }));
  assert.match(msg, /inequivalent arg 'x-message-ttl'/);
  await expectChannelError(conn, 406, (c) => c.assertQueue('args-q', { durable: false, arguments: { 'x-message-ttl': 1000 } }));
  await ch.assertExchange('args-x', 'direct');
  await expectChannelError(conn, 406, (c) => c.assertExchange('args-x', 'fanout'));
  await ch.assertQueue('args-q', { durable: true, arguments: { 'x-message-ttl': 1000 } });
  await conn.close();
});

test("another connection's exclusive queue is 405 RESOURCE_LOCKED", async () => {
  const owner = await amqp.connect(b.url);
  const och = await owner.createChannel();
  await och.assertQueue('locked-q', { exclusive: true });
  const other = await amqp.connect(b.url);
  const msg = await expectChannelError(other, 405, (c) => c.assertQueue('locked-q'));
  assert.match(msg, /RESOURCE_LOCKED/);
  await expectChannelError(other, 405, (c) => c.consume('locked-q', () => {}));
  await owner.close();
  const ch = await other.createChannel();
  await ch.assertQueue('locked-q'); // free again after the owner left
  await ch.deleteQueue('locked-q');
  await other.close();
});

test('unknown delivery tag (double ack) is 406 and the connection stays usable', async () => {
  const conn = await amqp.connect(b.url);
  const ch = await conn.createConfirmChannel();
  const closed = new Promise<Error & { code?: number }>((res) => ch.on('error', res));
  await ch.assertQueue('dbl-q');
  ch.sendToQueue('dbl-q', Buffer.from('x'));
  await ch.waitForConfirms();
  const m = await ch.get('dbl-q');
  assert.ok(m);
  ch.ack(m);
  ch.ack(m);
  const e = await closed;
  assert.equal(e.code, 406);
  assert.match(e.message, /unknown delivery tag/);
  const ch2 = await conn.createChannel();
  assert.equal(await ch2.get('dbl-q'), false);
  await conn.close();
});

test('exclusive consumer conflicts are 403 ACCESS_REFUSED; reserved amq. names are 403', async () => {
  const conn = await amqp.connect(b.url);
  const ch = await conn.createChannel();
  await ch.assertQueue('excl-consume-q');
  await ch.consume('excl-consume-q', () => {}, { exclusive: true });
  await expectChannelError(conn, 403, (c) => c.consume('excl-consume-q', () => {}));
  await expectChannelError(conn, 403, (c) => c.assertQueue('amq.mine'));
  await expectChannelError(conn, 403, (c) => c.assertExchange('amq.mine', 'direct'));
  await conn.close();
});

test('publishing to a missing exchange closes the channel with 404', async () => {
  const conn = await amqp.connect(b.url);
  const ch = await conn.createChannel();
  const closed = new Promise<Error & { code?: number }>((res) => ch.on('error', res));
  ch.publish('no-such-exchange', 'k', Buffer.from('x'));
  assert.equal((await closed).code, 404);
  await conn.close();
});

test('wrong password and unknown users are refused with 403; configured users log in', async () => {
  const port = b.server.port;
  await assert.rejects(amqp.connect(`amqp://guest:wrong@127.0.0.1:${port}`), /403|ACCESS_REFUSED/);
  await assert.rejects(amqp.connect(`amqp://bob:x@127.0.0.1:${port}`), /403|ACCESS_REFUSED/);
  const conn = await amqp.connect(`amqp://alice:${encodeURIComponent('s3cret:x')}@127.0.0.1:${port}`);
  await conn.close();
});

test('an unknown vhost is refused with 530 NOT_ALLOWED', async () => {
  await assert.rejects(amqp.connect(`${b.url}/other`), /530|NOT_ALLOWED|ConnectionClose/);
});

test('AMQPLAIN (what py-amqp/kombu pick when offered) authenticates like PLAIN', async () => {
  const { credentials } = amqp as unknown as { credentials: { amqplain(u: string, p: string): unknown } };
  const ok = await amqp.connect(`amqp://127.0.0.1:${b.server.port}`, { credentials: credentials.amqplain('guest', 'guest') } as never);
  await ok.close();
  await assert.rejects(amqp.connect(`amqp://127.0.0.1:${b.server.port}`, { credentials: credentials.amqplain('guest', 'nope') } as never), /403|ACCESS_REFUSED/);
});

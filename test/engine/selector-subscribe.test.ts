/** Selectors on subscriptions: JMS semantics over string headers, through the public API. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../../src/index.js';

test('a subscriber with a selector receives only matching messages; the rest wait for another member', async () => {
  await using mq = await connect('memory://');
  await mq.publish('q', [
    { body: 'a', headers: { color: 'red', weight: '5' } },
    { body: 'b', headers: { color: 'red', weight: '50' } },
    { body: 'c', headers: { color: 'blue', weight: '50' } },
  ]);
  const heavyRed = mq.subscribe('q', { selector: "color = 'red' AND weight > 10" });
  const it = heavyRed[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(Buffer.from(first.value!.body).toString(), 'b');
  await first.value!.ack();
  const rest: string[] = [];
  for await (const d of mq.subscribe('q', { prefetch: 10 })) {
    rest.push(Buffer.from(d.body).toString());
    await d.ack();
    if (rest.length === 2) break;
  }
  assert.deepEqual(rest.sort(), ['a', 'c']);
  await heavyRed.close();
});

test('an invalid selector is refused with MQ_ERR_SELECTOR', async () => {
  await using mq = await connect('memory://');
  assert.throws(() => mq.subscribe('q', { selector: "color = 'red' AND" }), { code: 'MQ_ERR_SELECTOR' });
});

test('a message no selective consumer matches does not block later matching messages', async () => {
  await using mq = await connect('memory://');
  const red = mq.subscribe('q', { selector: "color = 'red'", prefetch: 10 });
  const it = red[Symbol.asyncIterator]();
  await mq.publish('q', [{ body: 'blue1', headers: { color: 'blue' } }, { body: 'red1', headers: { color: 'red' } }]);
  assert.equal(Buffer.from((await it.next()).value!.body).toString(), 'red1');
  await mq.publish('q', [{ body: 'red2', headers: { color: 'red' } }]);
  assert.equal(Buffer.from((await it.next()).value!.body).toString(), 'red2');
  await red.close();
});

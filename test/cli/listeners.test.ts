/** The server's built-in listener list agrees with the protocol modules it loads lazily. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableListeners } from '../../src/server/listener.js';
import { amqpListener } from '../../src/protocols/amqp/listener.js';
import { respListener } from '../../src/protocols/resp/listener.js';
import { stompListener } from '../../src/protocols/stomp/listener.js';
import { kafkaListener } from '../../src/protocols/kafka/listener.js';
import { mqttListener } from '../../src/protocols/mqtt/listener.js';

test('every built-in listener has the name and default port of its protocol module', () => {
  const byName = new Map(availableListeners().map((l) => [l.name, l.defaultPort]));
  for (const l of [amqpListener, respListener, stompListener, kafkaListener, mqttListener]) {
    assert.equal(byName.get(l.name), l.defaultPort, `${l.name} listed with port ${l.defaultPort}`);
  }
  assert.equal(byName.size, 5);
});

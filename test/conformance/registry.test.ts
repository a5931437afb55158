/**
 * Unknown URL schemes: the error names the closest registered scheme. Runs once, not per
 * transport: it only needs the registry.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, registeredSchemes } from '../../src/index.js';

async function unknownScheme(url: string): Promise<{ code: unknown; message: string }> {
  try {
    await connect(url);
  } catch (e) {
    return { code: (e as { code?: unknown }).code, message: String((e as Error).message) };
  }
  throw new Error(`connect(${url}) succeeded`);
}

test('a misspelt scheme is rejected with MQ_ERR_UNKNOWN_SCHEME and "Did you mean" the registered one', async () => {
  assert.ok(registeredSchemes().includes('memory'), 'memory: is registered by importing the package');
  const e = await unknownScheme('memroy://');
  assert.equal(e.code, 'MQ_ERR_UNKNOWN_SCHEME');
  assert.match(e.message, /Did you mean "memory:"\?/);
  const f = await unknownScheme('fil://./data');
  assert.match(f.message, /Did you mean "file:"\?/);
});

test('a scheme like no registered one is rejected without a guess but with the known schemes', async () => {
  const e = await unknownScheme('zzzzzzzz://host');
  assert.equal(e.code, 'MQ_ERR_UNKNOWN_SCHEME');
  assert.doesNotMatch(e.message, /Did you mean/);
  assert.match(e.message, /memory:/);
});

test('a multi-host URL (a cluster) is parsed with its first host and every host in the hosts parameter', async () => {
  const { parseConnectUrl } = await import('../../src/core/registry.js');
  const u = parseConnectUrl('redis://user:pw@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002/0?persistent=true');
  assert.equal(u.hostname, '10.0.0.1');
  assert.equal(u.port, '7000');
  assert.equal(u.username, 'user');
  assert.equal(u.pathname, '/0');
  assert.equal(u.searchParams.get('persistent'), 'true');
  assert.equal(u.searchParams.get('hosts'), '10.0.0.1:7000,10.0.0.2:7001,[::1]:7002');
  const { clusterNodes } = await import('../../src/transports/redis.js');
  assert.deepEqual(clusterNodes(u), [
    { host: '10.0.0.1', port: 7000 },
    { host: '10.0.0.2', port: 7001 },
    { host: '::1', port: 7002 },
  ]);
  assert.equal(clusterNodes(parseConnectUrl('redis://10.0.0.1:7000')), undefined, 'one host without ?cluster=1 is a single server');
  assert.deepEqual(clusterNodes(parseConnectUrl('redis://10.0.0.1?cluster=1')), [{ host: '10.0.0.1', port: 6379 }]);
  await assert.rejects(connect('redis://a:1,b:2/3'), (e: unknown) => (e as { code?: unknown }).code === 'MQ_ERR_INVALID_URL');
});

test('file:// refuses a prefault value other than 0 or 1 before it opens the directory', async () => {
  await assert.rejects(connect('file:///nonexistent-omnibus-dir/x?prefault=yes'), (e: unknown) => (e as { code?: unknown }).code === 'MQ_ERR_INVALID_URL');
});

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

/**
 * The conformance suite against file://, each test in a fresh temporary directory; `reopen`
 * connects again to the directory of the closed transport, for the persistence tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { connect, type Transport } from '../../src/index.js';
import { describeTransport } from '../../src/testing/index.js';

const root = mkdtempSync(join(tmpdir(), 'omnibus-conformance-'));
after(() => rmSync(root, { recursive: true, force: true }));

const dirs = new WeakMap<Transport, string>();
let n = 0;

async function open(dir: string): Promise<Transport> {
  const t = await connect(`file://${dir}`);
  dirs.set(t, dir);
  return t;
}

describeTransport('file://', {
  connect: () => open(join(root, String(n++))),
  reopen: (closed) => open(dirs.get(closed)!),
  short: process.env['OMNIBUS_TEST_SHORT'] === '1',
});

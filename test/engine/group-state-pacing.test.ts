/** How often a group's state log is appended while a consumer keeps acking (file storage). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { FileStorage } from '../../src/engine/storage/file/index.js';
import { rec, settle, Sink } from './helpers.js';

const N = 3000;

test('a consumer acking one message per event-loop turn appends the state log about once per 10 ms, and every ack survives close and reopen', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'omnibus-state-pacing-'));
  const open = async (): Promise<Engine> => Engine.open({ storage: await FileStorage.open(dir), fsync: 'never' });
  try {
    const e1 = await open();
    await e1.topic('q');
    const g = await e1.group('q', 'g', {});
    await e1.publish('q', Array.from({ length: N }, (_, i) => rec(`m${i}`)));
    const sink = new Sink(100);
    g.addConsumer(sink);
    const log = g.stateLog!;
    await settle();
    const before = log.endOffset;
    const t0 = performance.now();
    let acked = 0;
    let turns = 0;
    while (acked < N) {
      await new Promise((r) => setImmediate(r));
      turns++;
      const d = sink.got[acked];
      if (d === undefined) continue;
      await d.ack();
      acked++;
    }
    const elapsedMs = performance.now() - t0;
    const appends = log.endOffset - before;
    // One append per turn with acks (the former behaviour) would be ~N here.
    assert.ok(appends <= elapsedMs / 10 + 3, `${appends} state-log appends in ${elapsedMs.toFixed(0)} ms of ${turns} turns`);
    assert.ok(appends * 5 < N, `${appends} appends for ${N} acks`);
    await e1.close();

    const e2 = await open();
    const again = new Sink(100);
    e2.getTopic('q')!.groups.get('g')!.addConsumer(again);
    await settle();
    assert.deepEqual(again.bodies(), [], 'no acked message comes back after close and reopen');
    await e2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

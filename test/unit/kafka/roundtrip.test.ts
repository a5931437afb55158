/**
 * Every generated API at every valid version, both messages, both directions:
 * decode(encode(x)) deep-equals x (x from an independent spec interpreter, spec-arb.ts), and
 * re-encoding the decoded value gives the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { APIS } from '../../../scripts/gen-kafka.js';
import { API_CODECS, ApiKey, Reader, Writer } from '../../../src/protocols/kafka/index.js';
import { specArb, versionsOf } from './spec-arb.js';

const RUNS = Number(process.env.KAFKA_FC_RUNS ?? 25);

for (const api of APIS) {
  const codec = API_CODECS.get(ApiKey[api])!;
  for (const kind of ['Request', 'Response'] as const) {
    const file = `${api}${kind}.json`;
    const arb = specArb(file);
    const enc = (kind === 'Request' ? codec.encodeRequest : codec.encodeResponse) as (w: Writer, v: number, x: unknown) => void;
    const dec = kind === 'Request' ? codec.decodeRequest : codec.decodeResponse;
    test(`${api}${kind}: round trip at versions ${versionsOf(file).join(',')}`, () => {
      for (const v of versionsOf(file)) {
        fc.assert(
          fc.property(arb.messageArb(v), (x) => {
            const w = new Writer(64, 16); // tiny zero-copy threshold: exercises chunked output
            enc(w, v, x);
            const bytes = w.toBuffer();
            const r = new Reader(bytes);
            const back = dec(r, v);
            assert.equal(r.remaining, 0, `v${v}: trailing bytes`);
            assert.deepStrictEqual(back, x, `v${v}`);
            const w2 = new Writer();
            enc(w2, v, back);
            assert.ok(w2.toBuffer().equals(bytes), `v${v}: re-encoding differs`);
          }),
          { numRuns: RUNS },
        );
      }
    });
  }
}

test('every API in the table has codecs up to its maxVersion, and ApiKey names match the spec', () => {
  assert.equal(API_CODECS.size, APIS.length);
  for (const c of API_CODECS.values()) {
    assert.ok(c.maxVersion <= c.generatedMaxVersion);
    assert.equal(ApiKey[c.name as keyof typeof ApiKey], c.apiKey);
  }
  assert.equal(API_CODECS.get(ApiKey.EndTxn)!.maxVersion, 4, 'EndTxn v5 is latestVersionUnstable');
});

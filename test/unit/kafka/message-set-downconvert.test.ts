/**
 * Magic 0/1 message sets both ways, against bytes recorded from kafka-python 2.0.2's own encoder
 * (kafka.record.legacy_records.LegacyRecordBatchBuilder, what its producer sends in Produce v0-2):
 * three messages at offsets 0-2 — key "k0" value "v0"; key null value "value-1"; key "k2" value
 * null — timestamps 1700000000000 + i (magic 1), uncompressed and gzip-wrapped. Recorded with:
 *
 *   b = LegacyRecordBatchBuilder(magic=M, compression_type=C, batch_size=1 << 20)
 *   for i, (k, v) in enumerate([(b'k0', b'v0'), (None, b'value-1'), (b'k2', None)]):
 *       b.append(i, timestamp=1700000000000 + i, key=k, value=v, headers=[])
 *   bytes(b.build()).hex()
 *
 * Produce converts a set to one RecordBatch v2; Fetch v0-3 down-converts it back
 * (recordBatchesToMessageSet): an uncompressed set round-trips to the identical bytes, a gzip one
 * to the bytes of the uncompressed set (down-conversion sends uncompressed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  KafkaErrorCode,
  buildControlBatch,
  buildRecordBatch,
  messageSetToRecordBatch,
  parseMessageSet,
  patchBaseOffset,
  recordBatchesToMessageSet,
} from '../../../src/protocols/kafka/index.js';

const hex = (s: string) => Buffer.from(s, 'hex');
const RECORDED = {
  m0: hex('0000000000000000000000128697724c0000000000026b3000000002763000000000000000010000001598dda4ae0000ffffffff0000000776616c75652d310000000000000002000000108b23e3da0000000000026b32ffffffff'),
  m0gzip: hex('00000000000000000000005a8b3cd42d0001ffffffff0000004c1f8b0800c3ff096b02ff63608003a1b6e9453e601653b601882c3380ca3002b1e88cbb4bd63130fc0702208fbd2c31a73455d710aa80098805ba951fdf826a37022903002c84d7d05b000000'),
  m1: hex('00000000000000000000001a74aa514001000000018bcfe56800000000026b3000000002763000000000000000010000001dd96ef7d901000000018bcfe56801ffffffff0000000776616c75652d31000000000000000200000018f585012201000000018bcfe56802000000026b32ffffffff'),
  m1gzip: hex('00000000000000000000006d513acfb801010000000000000000ffffffff000000571f8b0800c3ff096b02ff63608003a99255810e8c400663f7f9a7192011a66c031059660055019294bd99f7fd265c15e37f200072d8cb12734a53750da10a998058e26b2ba3125c2113d8382390720009359d0673000000'),
};
const T0 = 1_700_000_000_000;
const BIG = 1 << 20;

function toBatch(set: Buffer, baseOffset = 0): Buffer {
  const conv = messageSetToRecordBatch(set, T0 + 999)!;
  assert.equal(conv.count, 3);
  patchBaseOffset(conv.batch, 0, baseOffset);
  return conv.batch;
}

function codeOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return (e as { kafkaCode?: number }).kafkaCode;
  }
  return undefined;
}

test('recorded uncompressed magic 0 and magic 1 sets round-trip through a RecordBatch to the identical bytes', () => {
  assert.deepEqual(recordBatchesToMessageSet([toBatch(RECORDED.m0)], 0, 0, BIG), RECORDED.m0);
  assert.deepEqual(recordBatchesToMessageSet([toBatch(RECORDED.m1)], 1, 0, BIG), RECORDED.m1);
});

test('recorded gzip-wrapped sets come back as the uncompressed set of the same magic', () => {
  assert.deepEqual(recordBatchesToMessageSet([toBatch(RECORDED.m0gzip)], 0, 0, BIG), RECORDED.m0);
  assert.deepEqual(recordBatchesToMessageSet([toBatch(RECORDED.m1gzip)], 1, 0, BIG), RECORDED.m1);
});

test('a magic 1 set converted down to magic 0 loses only its timestamps', () => {
  assert.deepEqual(recordBatchesToMessageSet([toBatch(RECORDED.m1)], 0, 0, BIG), RECORDED.m0);
});

test('served offsets are absolute, records below the fetch offset are left out, a batch split over two chunks is read whole', () => {
  const b = toBatch(RECORDED.m1, 100);
  const out = parseMessageSet(recordBatchesToMessageSet([b.subarray(0, 16), b.subarray(16)], 1, 101, BIG));
  assert.deepEqual(
    out.map((m) => [m.offset, m.key?.toString() ?? null, m.value?.toString() ?? null, m.timestamp]),
    [
      [101, null, 'value-1', T0 + 1],
      [102, 'k2', null, T0 + 2],
    ],
  );
});

test('transaction markers are skipped, headers dropped, LogAppendTime kept as attribute bit 3 with the batch time', () => {
  const data = buildRecordBatch([{ key: Buffer.from('a'), value: Buffer.from('1'), headers: [{ key: 'h', value: Buffer.from('x') }], timestamp: T0 }], { baseOffset: 5, timestampType: 1, baseTimestamp: T0 });
  const marker = buildControlBatch({ type: 1, producerId: 7, producerEpoch: 0, baseOffset: 6, timestamp: T0 });
  const after = buildRecordBatch([{ value: Buffer.from('2'), timestamp: T0 + 50 }], { baseOffset: 7 });
  const set = recordBatchesToMessageSet([data, marker, after], 1, 5, BIG);
  const msgs = parseMessageSet(set);
  assert.deepEqual(
    msgs.map((m) => [m.offset, m.value!.toString(), m.attributes, m.timestamp]),
    [
      [5, '1', 0x08, T0],
      [7, '2', 0, T0 + 50],
    ],
  );
  // Only a marker: nothing to send (the handler then waits for data beyond it).
  assert.equal(recordBatchesToMessageSet([marker], 1, 6, BIG).length, 0);
});

test('output stops at the first batch boundary at or past max bytes; a batch is never cut', () => {
  const b1 = toBatch(RECORDED.m0, 0);
  const b2 = toBatch(RECORDED.m0, 3);
  const offsets = (max: number) => parseMessageSet(recordBatchesToMessageSet([b1, b2], 0, 0, max)).map((m) => m.offset);
  assert.deepEqual(offsets(1), [0, 1, 2], 'the whole first batch even when one message exceeds the limit');
  assert.deepEqual(offsets(RECORDED.m0.length), [0, 1, 2], 'the limit reached: the next batch is left for the next fetch');
  assert.deepEqual(offsets(RECORDED.m0.length + 1), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(parseMessageSet(recordBatchesToMessageSet([Buffer.concat([b1, b2])], 0, 0, 1 << 20)).map((m) => m.offset), [0, 1, 2, 3, 4, 5], 'two batches in one chunk');
});

test('zstd data: UNSUPPORTED_COMPRESSION_TYPE when first, else the output ends before it', () => {
  const zstd = buildRecordBatch([{ value: Buffer.from('z') }], { baseOffset: 3, compression: 4, compressor: (raw) => raw });
  assert.equal(codeOf(() => recordBatchesToMessageSet([zstd], 1, 3, BIG)), KafkaErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  const msgs = parseMessageSet(recordBatchesToMessageSet([toBatch(RECORDED.m1), zstd], 1, 0, BIG));
  assert.deepEqual(msgs.map((m) => m.offset), [0, 1, 2]);
});

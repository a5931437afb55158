import { FrameParser, basicPublish, encodeContent, encodeMethodFrame } from '../../../src/protocols/amqp/index.js';
const body = Buffer.from('{"task":"resize","id":12345,"size":[640,480]}');
const p = { contentType: 'application/json', deliveryMode: 2, headers: { 'x-retry': 1, origin: 'web' } };
const one = Buffer.concat([encodeMethodFrame(1, basicPublish({ exchange: 'amq.direct', routingKey: 'tasks.resize' })), encodeContent(1, 60, p, body, 131072)]);
const chunk = Buffer.concat(Array.from({ length: 64 }, () => one));
const parser = new FrameParser({ expectProtocolHeader: false });
for (let r = 0; r < 5; r++) {
  let frames = 0; const t0 = process.hrtime.bigint();
  for (let i = 0; i < 3000; i++) { parser.push(chunk); while (parser.read() !== undefined) frames++; }
  console.log(frames / (Number(process.hrtime.bigint() - t0) / 1e9));
}

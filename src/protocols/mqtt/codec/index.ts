/** The MQTT 3.1 / 3.1.1 / 5 codec: pure functions and a streaming decoder, no I/O. */
export * from './errors.js';
export * from './packets.js';
export * from './properties.js';
export { MqttDecoder, type DecoderOptions } from './decoder.js';
export { decodeBody, RC_UNSUPPORTED_PROTOCOL_VERSION } from './decode.js';
export { encodePacket, encodePublish, encodePublishHead, publishBodySize, writePublishHead } from './encode.js';
export { MAX_VARINT, Reader, Writer, checkedUtf8, varintSize, writeVarint } from './reader.js';

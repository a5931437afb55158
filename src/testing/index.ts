/**
 * `omnibus/testing`: the transport conformance suite and the helpers it is built from.
 */
export { describeTransport, type DescribeTransportOptions, type TestClock } from './conformance.js';
export {
  allByteValues,
  bytesEqual,
  bytesOf,
  collect,
  DEFAULT_TIMEOUT_MS,
  DeliveryReader,
  patternBytes,
  randomId,
  reader,
  release,
  sleep,
  textMessages,
  textOf,
  uniqueName,
  waitFor,
  type CollectOptions,
  type WaitForOptions,
} from './helpers.js';

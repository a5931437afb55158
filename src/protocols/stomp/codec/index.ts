export { StompParser, DEFAULT_STOMP_LIMITS, type StompParserLimits } from './parser.js';
export { encodeFrame, HEARTBEAT, type HeaderList } from './encoder.js';
export { StompFrameError, type StompFrameErrorKind } from './errors.js';
export { header, escapeHeader, unescapeHeader, isUnescapedCommand, type StompFrame, type StompVersion } from './frame.js';

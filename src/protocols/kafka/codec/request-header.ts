/**
 * Kafka request and response headers (spec/kafka/RequestHeader.json, ResponseHeader.json), and
 * whole-message helpers on top of the generated codecs.
 *
 *   Request frame  = Size:INT32 RequestHeader Body
 *   RequestHeader  v0: ApiKey:INT16 ApiVersion:INT16 CorrelationId:INT32
 *                  v1: v0 + ClientId:NULLABLE_STRING        (always the INT16-length form, never compact)
 *                  v2: v1 + TAGGED_FIELDS                   (used by flexible request versions)
 *   Response frame = Size:INT32 ResponseHeader Body
 *   ResponseHeader v0: CorrelationId:INT32
 *                  v1: v0 + TAGGED_FIELDS                   (flexible response versions)
 *
 * Header versions: request header v2 / response header v1 when the API version is flexible, else
 * v1 / v0 (v0 is only for ControlledShutdown v0, which Omnibus does not serve). EXCEPTION: the
 * ApiVersions *response* always uses header v0, whatever version was asked, so that a client can
 * read the error and the supported versions before the two sides agree on anything. An
 * ApiVersions *request* above our max is still parsed with header v2 (versions ≥ 3 are flexible,
 * and future ones will be too) and answered at v0 with UNSUPPORTED_VERSION.
 *
 * This module does not decide what to answer (version negotiation, errors): the session does.
 */
import { Reader } from './reader.js';
import { Writer } from './writer.js';
import { invalidRequest, unsupportedVersion } from './errors.js';
import { API_CODECS, ApiKey } from '../generated/api-keys.js';
import type { RequestByKey, ResponseByKey } from '../generated/api-keys.js';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  /** Null when the client sent a null client id (header v1+), '' for header v0. */
  clientId: string | null;
  /** 1 or 2 (0 is never produced for the APIs served here). */
  headerVersion: number;
}

/** Request header version for an API version (unknown APIs: 1, the body is not parsed anyway). */
export function requestHeaderVersion(apiKey: number, apiVersion: number): 1 | 2 {
  const c = API_CODECS.get(apiKey);
  return c && c.flexibleFrom !== null && apiVersion >= c.flexibleFrom ? 2 : 1;
}

/** Response header version: 1 for flexible versions, except ApiVersions (always 0). */
export function responseHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 {
  if (apiKey === ApiKey.ApiVersions) return 0;
  const c = API_CODECS.get(apiKey);
  return c && c.flexibleFrom !== null && apiVersion >= c.flexibleFrom ? 1 : 0;
}

/** Peeks api key, version and correlation id (first 8 bytes) without parsing the rest. */
export function peekRequestHeader(frame: Buffer): { apiKey: number; apiVersion: number; correlationId: number } | null {
  if (frame.length < 8) return null;
  return { apiKey: frame.readInt16BE(0), apiVersion: frame.readInt16BE(2), correlationId: frame.readInt32BE(4) };
}

/** Decodes the request header; leaves `r` at the start of the body. */
export function decodeRequestHeader(r: Reader): RequestHeader {
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  const headerVersion = requestHeaderVersion(apiKey, apiVersion);
  const clientId = r.nullableString();
  if (headerVersion >= 2) r.skipTaggedFields();
  return { apiKey, apiVersion, correlationId, clientId, headerVersion };
}

/** Encodes a request header (client side: tests, tools). */
export function encodeRequestHeader(w: Writer, h: { apiKey: number; apiVersion: number; correlationId: number; clientId: string | null }): void {
  w.int16(h.apiKey);
  w.int16(h.apiVersion);
  w.int32(h.correlationId);
  w.nullableString(h.clientId);
  if (requestHeaderVersion(h.apiKey, h.apiVersion) >= 2) w.uvarint(0);
}

export function encodeResponseHeader(w: Writer, apiKey: number, apiVersion: number, correlationId: number): void {
  w.int32(correlationId);
  if (responseHeaderVersion(apiKey, apiVersion) === 1) w.uvarint(0);
}

/** Decodes a response header (client side); returns the correlation id. */
export function decodeResponseHeader(r: Reader, apiKey: number, apiVersion: number): number {
  const correlationId = r.int32();
  if (responseHeaderVersion(apiKey, apiVersion) === 1) r.skipTaggedFields();
  return correlationId;
}

export interface DecodedRequest {
  header: RequestHeader;
  /** The body, typed by `header.apiKey` via RequestByKey (narrow with isRequest). */
  body: unknown;
}

/**
 * Decodes a whole request frame (without the size prefix). Throws KafkaCodecError:
 * UNSUPPORTED_VERSION (35) for an unknown API key or a version outside the generated range (the
 * header is then available through peekRequestHeader / err.header), INVALID_REQUEST (42) for a
 * malformed body, including trailing bytes after the body.
 */
export function decodeRequest(frame: Buffer): DecodedRequest {
  const r = new Reader(frame);
  const header = decodeRequestHeader(r);
  const codec = API_CODECS.get(header.apiKey);
  if (!codec) throw unsupportedVersion(`unknown api key ${header.apiKey}`);
  if (header.apiVersion < codec.minVersion || header.apiVersion > codec.generatedMaxVersion) {
    throw unsupportedVersion(`${codec.name} version ${header.apiVersion} not in ${codec.minVersion}-${codec.generatedMaxVersion}`);
  }
  const body = codec.decodeRequest(r, header.apiVersion);
  if (r.remaining !== 0) throw invalidRequest(`${codec.name} v${header.apiVersion}: ${r.remaining} trailing bytes`);
  return { header, body };
}

/** Narrows a decoded request body by api key. */
export function isRequest<K extends keyof RequestByKey>(d: DecodedRequest, apiKey: K): d is DecodedRequest & { body: RequestByKey[K] } {
  return d.header.apiKey === apiKey;
}

/**
 * Encodes a whole response frame: size prefix, response header, body. Returns chunks (record
 * batches of Fetch responses are referenced, not copied) for socket.cork()/write/uncork or writev.
 */
export function encodeResponse<K extends keyof ResponseByKey>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: ResponseByKey[K],
  w: Writer = new Writer(512),
): Buffer[] {
  const codec = API_CODECS.get(apiKey);
  if (!codec) throw unsupportedVersion(`unknown api key ${apiKey}`);
  const at = w.reserveInt32();
  encodeResponseHeader(w, apiKey, apiVersion, correlationId);
  (codec.encodeResponse as (w: Writer, v: number, b: ResponseByKey[K]) => void)(w, apiVersion, body);
  w.patchFrameSize(at);
  return w.chunks();
}

/** Encodes a whole request frame (client side: tests, tools), as one Buffer. */
export function encodeRequest<K extends keyof RequestByKey>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  clientId: string | null,
  body: RequestByKey[K],
): Buffer {
  const codec = API_CODECS.get(apiKey);
  if (!codec) throw unsupportedVersion(`unknown api key ${apiKey}`);
  const w = new Writer(512, Infinity);
  const at = w.reserveInt32();
  encodeRequestHeader(w, { apiKey, apiVersion, correlationId, clientId });
  (codec.encodeRequest as (w: Writer, v: number, b: RequestByKey[K]) => void)(w, apiVersion, body);
  w.patchFrameSize(at);
  return w.toBuffer();
}

/** Decodes a response frame without size prefix (client side: tests, tools). */
export function decodeResponse<K extends keyof ResponseByKey>(
  apiKey: K,
  apiVersion: number,
  frame: Buffer,
): { correlationId: number; body: ResponseByKey[K] } {
  const codec = API_CODECS.get(apiKey);
  if (!codec) throw unsupportedVersion(`unknown api key ${apiKey}`);
  const r = new Reader(frame);
  const correlationId = decodeResponseHeader(r, apiKey, apiVersion);
  const body = codec.decodeResponse(r, apiVersion) as ResponseByKey[K];
  if (r.remaining !== 0) throw invalidRequest(`${codec.name} response v${apiVersion}: ${r.remaining} trailing bytes`);
  return { correlationId, body };
}

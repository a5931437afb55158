/**
 * Small helpers shared by the generated codecs (src/protocols/kafka/generated/*). Hand-written;
 * kept apart from reader.ts/writer.ts because they encode generator conventions, not wire primitives.
 */
import type { Reader } from './reader.js';
import { invalidRequest } from './errors.js';

/** Default for absent BYTES fields. Shared and never written to: do not mutate. */
export const EMPTY: Buffer = Buffer.alloc(0);

/** The all-zero UUID in Kafka's string form (22 characters of base64url). */
export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

/**
 * Reads an ARRAY / COMPACT_ARRAY. The count is capped by the remaining bytes (Reader), so a
 * hostile count never allocates; elements are pushed (packed array) rather than preallocated.
 */
export function readArray<T>(r: Reader, flex: boolean, nullable: false, name: string, el: () => T): T[];
export function readArray<T>(r: Reader, flex: boolean, nullable: boolean, name: string, el: () => T): T[] | null;
export function readArray<T>(r: Reader, flex: boolean, nullable: boolean, name: string, el: () => T): T[] | null {
  const n = flex ? r.compactArrayLength() : r.arrayLength();
  if (n < 0) {
    if (nullable) return null;
    throw invalidRequest(`non-nullable array ${name} is null`);
  }
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(el());
  return out;
}

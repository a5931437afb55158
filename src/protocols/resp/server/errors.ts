/**
 * A reply error thrown by a command handler: the message is sent verbatim after `-` and must
 * begin with its Redis error code (`ERR`, `WRONGTYPE`, `NOGROUP`, …). Any other exception is
 * answered `-ERR <message>` and the connection stays open.
 */
export class RespError extends Error {}

export const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';
export const NOT_INTEGER = 'ERR value is not an integer or out of range';
export const SYNTAX = 'ERR syntax error';

export function wrongArgs(name: string): RespError {
  return new RespError(`ERR wrong number of arguments for '${name.toLowerCase()}' command`);
}

/**
 * The Lua scripts the redis:// transport (src/transports/redis.ts) runs with EVAL. They live here,
 * shared by the transport and Omnibus' RESP server, because the server has no Lua interpreter:
 * it recognises these texts (scripting.ts, whitespace-normalised) and runs them natively, so
 * redis:// works against an Omnibus server as it does against Redis. Changing a script here
 * changes both sides; a script the server does not recognise is refused with an error.
 */

/** Moves due delayed publishes of one topic into its stream. KEYS: zset, stream; ARGV: now, limit, hash prefix. */
export const MOVE_DUE = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, n in ipairs(ids) do
  local h = ARGV[3] .. n
  local f = redis.call('HGETALL', h)
  if #f > 0 then redis.call('XADD', KEYS[2], '*', unpack(f)) end
  redis.call('DEL', h)
  redis.call('ZREM', KEYS[1], n)
end
return #ids`;

/** Pops due ids from a group's due set. KEYS: zset; ARGV: now, limit. */
export const POP_DUE = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #ids > 0 then redis.call('ZREM', KEYS[1], unpack(ids)) end
return ids`;

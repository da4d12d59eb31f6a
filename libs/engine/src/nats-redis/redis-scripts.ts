/**
 * Lua scripts of the Redis channel store. Each runs atomically, touching only one
 * channel's keys (all in one hash slot through the `{channel}` tag). Message JSON is
 * built by string concatenation: `cjson` would lose number precision and turn `[]` into `{}`.
 *
 * Keys per channel: `<prefix>{<channel>}:m` hash (e = epoch, o = last offset, r = the
 * `run_id` of the Redis server that last published on the channel),
 * `<prefix>{<channel>}:h` stream (id `<offset>-0`, fields m = message JSON, r = received-at ms),
 * `<prefix>{<channel>}:i:<idempotency key>` string `<epoch>:<offset>`.
 */

/**
 * KEYS: meta, history, idempotency key.
 * ARGV: epoch candidate, JSON head, JSON tail, received-at, history size, history TTL s,
 * meta TTL s, idempotency TTL s ('' without a key).
 * Returns {1, epoch, offset, json} for a new message, {0, epoch, offset[, json, receivedAt]}
 * for a duplicate (the original message when it is still in history).
 *
 * A channel last published by another server process (`r` is not this server's `run_id`:
 * a promoted replica, or a master restarted) starts a new epoch: replication is
 * asynchronous and persistence periodic, so that process may have acknowledged offsets
 * this one never received, and reusing them in the same epoch would make clients that saw
 * the lost ones drop the new ones as duplicates. A new epoch tells them `recovered:false`
 * instead. A channel without `r` (written before it was kept) takes this server's id and
 * keeps its epoch. (`run_id`, not the replication id, which a master also renews when its
 * first replica attaches: that would be a new epoch with nothing lost.)
 */
export const PUBLISH_SCRIPT = `
local runid = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or ''
local meta = redis.call('HMGET', KEYS[1], 'e', 'r')
local epoch = meta[1]
if epoch and meta[2] and meta[2] ~= runid then
  epoch = false
end
if ARGV[8] ~= '' and epoch then
  local seen = redis.call('GET', KEYS[3])
  if seen then
    local sep = string.find(seen, ':', 1, true)
    if sep and string.sub(seen, 1, sep - 1) == epoch then
      local offset = string.sub(seen, sep + 1)
      local entries = redis.call('XRANGE', KEYS[2], offset .. '-0', offset .. '-0')
      if #entries == 1 then
        local f = entries[1][2]
        return {0, epoch, tonumber(offset), f[2], f[4]}
      end
      return {0, epoch, tonumber(offset)}
    end
  end
end
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0)
end
if meta[2] ~= runid then
  redis.call('HSET', KEYS[1], 'r', runid)
end
local offset = redis.call('HINCRBY', KEYS[1], 'o', 1)
local json = ARGV[2] .. ',"offset":' .. offset .. ',"epoch":"' .. epoch .. '"' .. ARGV[3]
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[5], offset .. '-0', 'm', json, 'r', ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('EXPIRE', KEYS[1], ARGV[7])
if ARGV[8] ~= '' then
  redis.call('SET', KEYS[3], epoch .. ':' .. offset, 'EX', ARGV[8])
end
return {1, epoch, offset, json}
`;

/**
 * KEYS: meta, history.
 * ARGV: epoch candidate, meta TTL s, history TTL s, reader's epoch (''), reader's offset (''),
 * '1' to read messages, '1' to create an untouched channel.
 * Returns {} for an untouched channel when it may not be created, else
 * {epoch, offset, created (1|0), id1, json1, receivedAt1, …}: the messages after the
 * reader's offset when its epoch matches, else all of history. A channel never published
 * to (offset 0) expires a history TTL after its last read, so reads of random names cannot
 * fill Redis; a published one keeps the meta TTL, as on publish.
 */
export const READ_SCRIPT = `
local meta = redis.call('HMGET', KEYS[1], 'e', 'o')
local epoch = meta[1]
local top = tonumber(meta[2]) or 0
local created = 0
if not epoch then
  if ARGV[7] ~= '1' then
    return {}
  end
  epoch = ARGV[1]
  top = 0
  created = 1
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0)
end
if top > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
else
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
local result = {epoch, top, created}
if ARGV[6] == '1' then
  local start = '-'
  if ARGV[4] == epoch and ARGV[5] ~= '' then
    start = (tonumber(ARGV[5]) + 1) .. '-0'
  end
  local entries = redis.call('XRANGE', KEYS[2], start, '+')
  for i = 1, #entries do
    local e = entries[i]
    result[#result + 1] = e[1]
    result[#result + 1] = e[2][2]
    result[#result + 1] = e[2][4]
  end
end
return result
`;

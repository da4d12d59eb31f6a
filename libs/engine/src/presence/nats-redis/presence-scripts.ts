/**
 * Lua scripts of the Redis presence store. A channel's scripts touch only its own keys
 * (one hash slot through the `{channel}` tag), so each transition is decided atomically
 * and the store works on Redis Cluster. Users and infos arrive JSON-encoded from the
 * client and outbox entries are built by concatenation: `cjson` would lose number
 * precision and turn `[]` into `{}`.
 *
 * Keys per channel, `<prefix>{<channel>}:p:`…
 * - `m` hash: user JSON → `<connections> <info JSON>` (HLEN = members)
 * - `c` hash: `<holder>/<connection>` → user JSON (HLEN = connections)
 * - `s` hash: `e` epoch, `s` last transition seq (kept `SEQ_TTL` after the last transition,
 *   so a channel vacated and occupied again keeps counting)
 * - `o` hash: outbox, seq → transition JSON `{"s","e","t","at","u"?,"i"?}` (t: o a r v)
 *
 * Leases, in the `{#presence}` slot: `l` sorted set holder → lease expiry (ms, Redis
 * clock), `r` sorted set holder → end of its reaper's claim. Each holder's index is a set
 * `<prefix>{#h:<holder>}:i` of `<channel> <connection>` (a channel has no space).
 */

/** Emits one transition: seq, outbox entry (when asked), and its code into the reply. */
const EMIT = `
local function emit(out, epoch, code, user, info)
  local seq = redis.call('HINCRBY', KEYS[3], 's', 1)
  out[#out + 1] = seq
  out[#out + 1] = code
  if ARGV[OUTBOX] == '1' then
    local json = '{"s":' .. seq .. ',"e":"' .. epoch .. '","t":"' .. code .. '","at":' .. ARGV[AT]
    if user then json = json .. ',"u":' .. user end
    if info then json = json .. ',"i":' .. info end
    redis.call('HSET', KEYS[4], seq, json .. '}')
  end
end
local function epoch_of()
  local epoch = redis.call('HGET', KEYS[3], 'e')
  if not epoch then
    epoch = ARGV[EPOCH]
    redis.call('HSET', KEYS[3], 'e', epoch, 's', 0)
  end
  return epoch
end
local function finish(out)
  redis.call('EXPIRE', KEYS[3], ARGV[SEQ_TTL])
  if ARGV[OUTBOX] == '1' then redis.call('EXPIRE', KEYS[4], ARGV[OUTBOX_TTL]) end
  return out
end
`;

function withArgs(body: string, args: Record<string, number>): string {
  let lua = EMIT + body;
  for (const [name, index] of Object.entries(args)) lua = lua.replace(new RegExp(`ARGV\\[${name}\\]`, 'g'), `ARGV[${index}]`);
  return lua;
}

/**
 * KEYS: m, c, s, o. ARGV: field, user JSON, info JSON, epoch candidate, '1' to keep an
 * outbox, at, seq TTL s, outbox TTL s.
 * Returns {} or {epoch, seq, code, …} (codes o = occupied, a = added).
 */
export const JOIN_SCRIPT = withArgs(
  `
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local cur = redis.call('HGET', KEYS[1], ARGV[2])
if cur then
  local sp = string.find(cur, ' ', 1, true)
  redis.call('HSET', KEYS[1], ARGV[2], (tonumber(string.sub(cur, 1, sp - 1)) + 1) .. string.sub(cur, sp))
  return {}
end
local first = redis.call('HLEN', KEYS[1]) == 0
redis.call('HSET', KEYS[1], ARGV[2], '1 ' .. ARGV[3])
local epoch = epoch_of()
local out = {epoch}
if first then emit(out, epoch, 'o') end
emit(out, epoch, 'a', ARGV[2], ARGV[3])
return finish(out)
`,
  { EPOCH: 4, OUTBOX: 5, AT: 6, SEQ_TTL: 7, OUTBOX_TTL: 8 },
);

/**
 * KEYS: m, c, s, o. ARGV: field, epoch candidate, '1' to keep an outbox, at, seq TTL s, outbox TTL s.
 * Returns {} or {epoch, user JSON, seq, code, …} (codes r = removed, v = vacated).
 */
export const LEAVE_SCRIPT = withArgs(
  `
local user = redis.call('HGET', KEYS[2], ARGV[1])
if not user then return {} end
redis.call('HDEL', KEYS[2], ARGV[1])
local cur = redis.call('HGET', KEYS[1], user)
if not cur then return {} end
local sp = string.find(cur, ' ', 1, true)
local n = tonumber(string.sub(cur, 1, sp - 1)) - 1
if n > 0 then
  redis.call('HSET', KEYS[1], user, n .. string.sub(cur, sp))
  return {}
end
redis.call('HDEL', KEYS[1], user)
local epoch = epoch_of()
local out = {epoch, user}
emit(out, epoch, 'r', user)
if redis.call('HLEN', KEYS[1]) == 0 then emit(out, epoch, 'v') end
return finish(out)
`,
  { EPOCH: 2, OUTBOX: 3, AT: 4, SEQ_TTL: 5, OUTBOX_TTL: 6 },
);

/**
 * KEYS: m, c. ARGV: limit.
 * Returns {members, connections, JSON array of at most `limit` members}: the whole hash
 * when it fits, else HSCAN pages until `limit` distinct users are collected. The array is
 * `[{"user":…,"info":…,"connections":n},…]`, built here so a reply to a client is one string.
 */
export const MEMBERS_SCRIPT = `
local count = redis.call('HLEN', KEYS[1])
local conns = redis.call('HLEN', KEYS[2])
local limit = tonumber(ARGV[1])
local parts = {}
local function add(user, value)
  local sp = string.find(value, ' ', 1, true)
  parts[#parts + 1] = '{"user":' .. user .. ',"info":' .. string.sub(value, sp + 1) .. ',"connections":' .. string.sub(value, 1, sp - 1) .. '}'
end
if limit > 0 and count > 0 then
  if count <= limit then
    local all = redis.call('HGETALL', KEYS[1])
    for i = 1, #all, 2 do add(all[i], all[i + 1]) end
  else
    local seen = {}
    local cursor = '0'
    repeat
      local page = redis.call('HSCAN', KEYS[1], cursor, 'COUNT', limit)
      cursor = page[1]
      local kv = page[2]
      for i = 1, #kv, 2 do
        if #parts < limit and not seen[kv[i]] then
          seen[kv[i]] = true
          add(kv[i], kv[i + 1])
        end
      end
    until cursor == '0' or #parts >= limit
  end
end
return {count, conns, '[' .. table.concat(parts, ',') .. ']', #parts}
`;

/**
 * KEYS: leases, claims. ARGV: holder, lease ms, claim ms, claim limit, '1' to register.
 * Renews the holder's lease (only an existing one unless registering), then moves up to
 * `limit` expired leases, and stale claims, to claims ending `claim ms` from now.
 * Returns {leased 0|1, claimed holder, …}. Times are the Redis server's clock.
 */
export const HEARTBEAT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {0}
if ARGV[5] == '1' or redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  out[1] = 1
end
local limit = tonumber(ARGV[4])
if limit > 0 then
  local until_ = now + tonumber(ARGV[3])
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
  for i = 1, #expired do
    redis.call('ZREM', KEYS[1], expired[i])
    redis.call('ZADD', KEYS[2], until_, expired[i])
    out[#out + 1] = expired[i]
  end
  local room = limit - #expired
  if room > 0 then
    -- A claim whose reaper did not finish in time (it died): hand the holder to this caller.
    local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, room)
    for i = 1, #stale do
      redis.call('ZADD', KEYS[2], until_, stale[i])
      out[#out + 1] = stale[i]
    end
  end
end
return out
`;

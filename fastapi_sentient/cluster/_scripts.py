"""The Lua scripts of the Redis coordinator.

Each script is one atomic step, takes every key it touches as KEYS (all in the
cluster group's hash slot) and reads the time from the server (``TIME``), so
no client clock is ever compared with another.

Data loss is detected two ways: the ``boot`` marker is missing (a new or wiped
dataset), or the server's replication id differs from the one recorded with
the data (a replica was promoted, or the server restarted: what the lost
primary wrote last may be missing here).  Whoever first notices starts a new
store generation, drops the lease, holds elections off for one lease (a leader
elected before the loss may still believe in its term for that long) and moves
the epoch counter past anything the lost data could have issued: to the
server clock in milliseconds, and after a promotion also at least 2^32 above
the counter the replica kept.  Epochs are issued at most one per round trip,
so a counter never runs ahead of the clock that seeds it.
"""

from __future__ import annotations

_COMMON = """
if redis.replicate_commands then redis.replicate_commands() end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function int(n) return string.format('%d', n) end
local GAP = 4294967296
local function restart_epochs(epoch_key, gap)
  local counter = tonumber(redis.call('GET', epoch_key) or '0')
  redis.call('SET', epoch_key, int(math.max(counter + gap, now_ms())))
end
-- k: boot holdoff events roster replid epoch leader (key names); replid '' skips that check
local function ensure_boot(k, gen, lease_ms, maxlen, replid)
  local current = redis.call('GET', k.boot)
  local reason = 'wiped'
  if current then
    if replid == '' then return current end
    local recorded = redis.call('GET', k.replid)
    if recorded == replid then return current end
    redis.call('SET', k.replid, replid)
    if not recorded then return current end
    reason = 'promoted'
    restart_epochs(k.epoch, GAP)
  else
    if replid ~= '' then redis.call('SET', k.replid, replid) end
    restart_epochs(k.epoch, 0)
  end
  redis.call('SET', k.boot, gen)
  -- every reader of the member list falls behind the floor and reads it whole
  redis.call('HSET', k.roster, 'floor', redis.call('HINCRBY', k.roster, 'v', 1))
  redis.call('DEL', k.leader)
  redis.call('SET', k.holdoff, '1', 'PX', lease_ms)
  redis.call('XADD', k.events, 'MAXLEN', '~', maxlen, '*',
             'type', 'store-reset', 'gen', gen, 'reason', reason)
  return gen
end
local function inc_of(doc)
  if not doc then return false end
  return cjson.decode(doc).inc
end
-- Record a roster change of one node: its entry in the changes set takes the new version.
local function changed(roster, changes, node)
  local v = redis.call('HINCRBY', roster, 'v', 1)
  redis.call('ZADD', changes, v, node)
end
-- Forget the oldest departed nodes once there are many; readers behind the floor re-read all.
local function prune_changes(changes, nodes, roster)
  local excess = redis.call('ZCARD', changes) - redis.call('HLEN', nodes) - 1000
  if excess <= 0 then return end
  local oldest = redis.call('ZRANGE', changes, 0, math.min(excess, 100) - 1, 'WITHSCORES')
  for i = 1, #oldest, 2 do
    if redis.call('HEXISTS', nodes, oldest[i]) == 0 then
      redis.call('ZREM', changes, oldest[i])
      redis.call('HSET', roster, 'floor', oldest[i + 1])
    end
  end
end
local function drop_services(key, doomed)
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if doomed(cjson.decode(all[i + 1])) then redis.call('HDEL', key, all[i]) end
  end
end
"""

# KEYS: leader epoch boot holdoff events replid roster
# ARGV: tok node inc lease_ms min_epoch gen maxlen replid
ACQUIRE = (
    _COMMON
    + """
local k = {leader = KEYS[1], epoch = KEYS[2], boot = KEYS[3], holdoff = KEYS[4],
           events = KEYS[5], replid = KEYS[6], roster = KEYS[7]}
local gen = ensure_boot(k, ARGV[6], ARGV[4], ARGV[7], ARGV[8])
local hold = redis.call('PTTL', KEYS[4])
if hold > 0 then return {'holdoff', gen, int(hold)} end
local floor = tonumber(ARGV[5])
local tok = redis.call('HGET', KEYS[1], 'tok')
if tok == ARGV[1] then
  local held = redis.call('HGET', KEYS[1], 'epoch')
  if tonumber(held) > floor then
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
    return {'acquired', gen, held}
  end
  -- the caller has since seen this epoch superseded: issue a new one below
elseif tok then
  local h = redis.call('HMGET', KEYS[1], 'node', 'inc', 'epoch')
  return {'held', gen, h[3] or '0', h[1] or '', h[2] or '', int(redis.call('PTTL', KEYS[1]))}
end
local epoch = redis.call('INCR', KEYS[2])
if epoch <= floor then
  epoch = floor + 1
  redis.call('SET', KEYS[2], int(epoch))
end
redis.call('HSET', KEYS[1], 'tok', ARGV[1], 'node', ARGV[2], 'inc', ARGV[3],
           'epoch', int(epoch), 'since', int(now_ms()))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], '*',
           'type', 'elected', 'node', ARGV[2], 'inc', ARGV[3], 'epoch', int(epoch))
return {'acquired', gen, int(epoch)}
"""
)

# KEYS: leader   ARGV: tok lease_ms
RENEW = """
if redis.call('HGET', KEYS[1], 'tok') == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS: leader events   ARGV: tok maxlen
RELEASE = """
if redis.call('HGET', KEYS[1], 'tok') ~= ARGV[1] then return 0 end
local h = redis.call('HMGET', KEYS[1], 'node', 'epoch')
redis.call('DEL', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*',
           'type', 'released', 'node', h[1] or '', 'epoch', h[2] or '0')
return 1
"""

# KEYS: leader nodes members   ARGV: -
LEADER = """
local h = redis.call('HMGET', KEYS[1], 'node', 'inc', 'epoch')
if not h[1] then return {} end
return {h[1], h[2] or '', h[3] or '0', redis.call('HGET', KEYS[2], h[1]) or '',
        redis.call('ZSCORE', KEYS[3], h[1]) or ''}
"""

# KEYS: members nodes boot holdoff events services roster replid epoch leader changes config
# ARGV: node inc doc must_exist gen lease_ms maxlen replid node_ttl_ms stale_limit
#       poll_after poll_count
# Returns {outcome, gen, now_ms, roster version, roster floor, members past the TTL,
# config version, stream entries after poll_after}: the roster as ROSTER reads it and the
# stream and config as POLL reads them, so a heartbeat needs no second or third round trip
# to follow the list, the events and the configuration.  An empty poll_after reads no entries.
HEARTBEAT = (
    _COMMON
    + """
local k = {boot = KEYS[3], holdoff = KEYS[4], events = KEYS[5], roster = KEYS[7],
           replid = KEYS[8], epoch = KEYS[9], leader = KEYS[10]}
local gen = ensure_boot(k, ARGV[5], ARGV[6], ARGV[7], ARGV[8])
local now = now_ms()
local function reply(outcome)
  local h = redis.call('HMGET', KEYS[7], 'v', 'floor')
  local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. int(now - tonumber(ARGV[9])),
                           'LIMIT', 0, ARGV[10])
  local entries = {}
  if ARGV[11] ~= '' then
    entries = redis.call('XRANGE', KEYS[5], '(' .. ARGV[11], '+', 'COUNT', ARGV[12])
  end
  local config = redis.call('HGET', KEYS[12], 'v') or '0'
  return {outcome, gen, int(now), h[1] or '0', h[2] or '0', stale, config, entries}
end
local present = redis.call('ZSCORE', KEYS[1], ARGV[1])
local stored = redis.call('HGET', KEYS[2], ARGV[1])
local stored_inc = inc_of(stored)
if ARGV[4] == '1' and (not present or stored_inc ~= ARGV[2]) then
  return reply('evicted')
end
local joined = false
if not present or not stored_inc then
  joined = true
elseif stored_inc ~= ARGV[2] then
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], '*',
             'type', 'node-left', 'node', ARGV[1], 'inc', stored_inc, 'reason', 'replaced')
  drop_services(KEYS[6], function(s) return s.node == ARGV[1] and s.inc ~= ARGV[2] end)
  joined = true
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
if stored ~= ARGV[3] then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
  changed(KEYS[7], KEYS[11], ARGV[1])
end
if joined then
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], '*',
             'type', 'node-joined', 'node', ARGV[1], 'inc', ARGV[2])
  return reply('joined')
end
return reply('ok')
"""
)

# KEYS: members nodes services events roster changes   ARGV: node_ttl_ms limit maxlen
REAP = (
    _COMMON
    + """
local cutoff = now_ms() - tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. int(cutoff),
                       'LIMIT', 0, tonumber(ARGV[2]))
if #ids == 0 then return ids end
local dead = {}
for _, id in ipairs(ids) do
  local inc = inc_of(redis.call('HGET', KEYS[2], id)) or ''
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*',
             'type', 'node-left', 'node', id, 'inc', inc, 'reason', 'timeout')
  changed(KEYS[5], KEYS[6], id)
  dead[id] = true
end
drop_services(KEYS[3], function(s) return dead[s.node] end)
prune_changes(KEYS[6], KEYS[2], KEYS[5])
return ids
"""
)

# KEYS: members nodes services events roster changes   ARGV: node inc maxlen
LEAVE = (
    _COMMON
    + """
if inc_of(redis.call('HGET', KEYS[2], ARGV[1])) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
drop_services(KEYS[3], function(s) return s.node == ARGV[1] end)
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*',
           'type', 'node-left', 'node', ARGV[1], 'inc', ARGV[2], 'reason', 'shutdown')
changed(KEYS[5], KEYS[6], ARGV[1])
prune_changes(KEYS[6], KEYS[2], KEYS[5])
return 1
"""
)

# KEYS: members nodes roster   ARGV: -
# Returns now_ms and the roster version, then (node, heartbeat_ms, doc) for every
# stored member, live or not: the caller decides liveness against the server time
# returned with them.
LIST = (
    _COMMON
    + """
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {int(now_ms()), redis.call('HGET', KEYS[3], 'v') or '0'}
for i = 1, #entries, 2 do
  out[#out + 1] = entries[i]
  out[#out + 1] = entries[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], entries[i]) or ''
end
return out
"""
)

# KEYS: members roster   ARGV: node_ttl_ms limit
# What a reader of the member list needs every heartbeat, in O(log N): the roster
# version and floor, and the members past the TTL (usually none).
ROSTER = (
    _COMMON
    + """
local cutoff = now_ms() - tonumber(ARGV[1])
local h = redis.call('HMGET', KEYS[2], 'v', 'floor')
return {h[1] or '0', h[2] or '0',
        redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. int(cutoff), 'LIMIT', 0, ARGV[2])}
"""
)

# KEYS: changes nodes members   ARGV: since limit
# The members changed since roster version ``since``: (node, version, doc, heartbeat_ms),
# doc and heartbeat empty for a node that left.
CHANGES = """
local changed = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES',
                           'LIMIT', 0, ARGV[2])
local out = {}
for i = 1, #changed, 2 do
  out[#out + 1] = changed[i]
  out[#out + 1] = changed[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], changed[i]) or ''
  out[#out + 1] = redis.call('ZSCORE', KEYS[3], changed[i]) or ''
end
return out
"""

# KEYS: services   ARGV: id node
UNREGISTER = """
local doc = redis.call('HGET', KEYS[1], ARGV[1])
if not doc or cjson.decode(doc).node ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"""

# KEYS: services members nodes   ARGV: name node_ttl_ms
DISCOVER = (
    _COMMON
    + """
local cutoff = now_ms() - tonumber(ARGV[2])
local out = {}
local incs = {}
for _, doc in ipairs(redis.call('HVALS', KEYS[1])) do
  local svc = cjson.decode(doc)
  if svc.name == ARGV[1] then
    local score = redis.call('ZSCORE', KEYS[2], svc.node)
    if score and tonumber(score) > cutoff then
      if incs[svc.node] == nil then
        incs[svc.node] = inc_of(redis.call('HGET', KEYS[3], svc.node))
      end
      if incs[svc.node] == svc.inc then out[#out + 1] = doc end
    end
  end
end
return out
"""
)

# KEYS: config events   ARGV: expected_version data channel maxlen
SET_CONFIG = """
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return {'conflict', string.format('%d', v)} end
local vs = string.format('%d', v + 1)
redis.call('HSET', KEYS[1], 'v', vs, 'data', ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'type', 'config-changed', 'version', vs)
redis.call('PUBLISH', ARGV[3], vs)
return {'ok', vs}
"""

# KEYS: config boot   ARGV: -
GET_CONFIG = """
local h = redis.call('HMGET', KEYS[1], 'v', 'data')
return {redis.call('GET', KEYS[2]) or '', h[1] or '0', h[2] or ''}
"""

# KEYS: events config boot   ARGV: -
# The stream position and the config snapshot in one atomic read: nothing
# written after the snapshot can be missed by a reader resuming from the id.
WATCH_START = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local id = '0-0'
if #last > 0 then id = last[1][1] end
local h = redis.call('HMGET', KEYS[2], 'v', 'data')
return {id, redis.call('GET', KEYS[3]) or '', h[1] or '0', h[2] or ''}
"""

# KEYS: events config boot   ARGV: after_id count
POLL = """
local entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
return {redis.call('GET', KEYS[3]) or '', redis.call('HGET', KEYS[2], 'v') or '0', entries}
"""

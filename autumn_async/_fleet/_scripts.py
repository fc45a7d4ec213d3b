"""Server-side scripts of the fleet protocol (Lua, run atomically by Redis).

A script is a transaction like ``MULTI``/``EXEC`` that can also look before it writes:
settling acknowledges, deletes and dead-letters an entry only if it still exists, so two
consumers settling the same entry (a slow owner and the peer that reclaimed it) never
count it twice; a heartbeat touches only entries still pending for this consumer, so
it never takes back an entry a peer has reclaimed.
"""

from __future__ import annotations

__all__ = ["DELCONSUMER_IF_IDLE", "PUT", "RECLAIM", "SETTLE", "TOUCH"]

#: KEYS: stream, events counter, stats hash. ARGV: events, account, schema version, then
#: per entry: keys, created_at, bodies (see _codec). One command for a whole burst,
#: atomic like MULTI/EXEC: entries and counter never disagree. Never MAXLEN.
#: Returns the backlog after the write.
PUT = """
for i = 4, #ARGV, 3 do
  redis.call('XADD', KEYS[1], '*', 'v', ARGV[3], 'a', ARGV[2],
    'k', ARGV[i], 't', ARGV[i + 1], 'b', ARGV[i + 2])
end
redis.call('HINCRBY', KEYS[3], 'enqueued', ARGV[1])
return redis.call('INCRBY', KEYS[2], ARGV[1])
"""

#: KEYS: stream, dead stream, events counter, stats hash.
#: ARGV: group, entry id, (unused), now, account, delivered, duplicates, dead count, then
#: per dead event: key, created_at, body, reason, reason kind.
#: The events counter goes down by what PUT added for this entry (one per line of its
#: keys, for an entry with the fields every schema version writes: v, a, k, t, b), so an
#: entry written by anything else (a raw XADD) leaves it exact. Dead letters are counted
#: by reason kind (a bounded set); the full reason stays in the letter.
#: Returns 1 when this call settled the entry, 0 when it was already gone.
SETTLE = """
local group, id = ARGV[1], ARGV[2]
local e = redis.call('XRANGE', KEYS[1], id, id)
redis.call('XACK', KEYS[1], group, id)
if #e == 0 then
  return 0
end
local f, fields = e[1][2], {}
for i = 1, #f, 2 do fields[f[i]] = f[i + 1] end
local counted = 0
if fields['v'] and fields['a'] and fields['k'] and fields['t'] and fields['b'] then
  local _, newlines = string.gsub(fields['k'], '\\n', '')
  counted = newlines + 1
end
redis.call('XDEL', KEYS[1], id)
if counted > 0 then
  redis.call('DECRBY', KEYS[3], counted)
end
redis.call('HINCRBY', KEYS[4], 'delivered', ARGV[6])
redis.call('HINCRBY', KEYS[4], 'duplicates', ARGV[7])
local i = 9
for _ = 1, tonumber(ARGV[8]) do
  redis.call('XADD', KEYS[2], '*', 'v', '1', 'key', ARGV[i], 't', ARGV[i + 1],
    'body', ARGV[i + 2], 'reason', ARGV[i + 3], 'a', ARGV[5], 'source', id, 'at', ARGV[4])
  redis.call('HINCRBY', KEYS[4], 'dead_lettered:' .. ARGV[i + 4], 1)
  i = i + 5
end
return 1
"""

#: KEYS: stream. ARGV: group, consumer, idle ms to set, "1" to give a delivery back,
#: entry ids. XCLAIM ... IDLE ms JUSTID on the ids still pending for this consumer: idle 0
#: is a heartbeat, a long idle hands them back (a peer's reclaim takes them at once).
#: JUSTID leaves the delivery counter alone; giving a delivery back (a clean hand-back of
#: events never sent) lowers it by the one this consumer's claim added, so that only real
#: delivery attempts count towards poison. Returns the ids this consumer lost.
TOUCH = """
local group, me, undo = ARGV[1], ARGV[2], ARGV[4] == '1'
local kept, lost = {}, {}
for i = 5, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], group, ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == me then
    if undo then
      local count = math.max(0, tonumber(p[1][4]) - 1)
      redis.call('XCLAIM', KEYS[1], group, me, 0, ARGV[i], 'IDLE', ARGV[3],
        'RETRYCOUNT', count, 'JUSTID')
    else
      table.insert(kept, ARGV[i])
    end
  else
    table.insert(lost, ARGV[i])
  end
end
if #kept > 0 then
  local args = {'XCLAIM', KEYS[1], group, me, 0}
  for _, id in ipairs(kept) do table.insert(args, id) end
  table.insert(args, 'IDLE')
  table.insert(args, ARGV[3])
  table.insert(args, 'JUSTID')
  redis.call(unpack(args))
end
return lost
"""

#: KEYS: stream. ARGV: group, consumer, min idle ms, start of the scan ("-" or an
#: exclusive "(id"), count, this consumer's account, idle ms of a hand-back.
#: XAUTOCLAIM that leaves other accounts' entries alone: it takes pending entries idle
#: for at least the lease, except those of another account (schema "1", another "a"),
#: which stay where they are, with their idle time and delivery counter untouched, for
#: a worker of that account. An entry deleted while pending is acknowledged. An entry
#: idle for at least a hand-back's idle was handed back (a worker stopping, or leaving
#: another account's entries), not left by a silent worker. A previous owner left with
#: nothing pending is removed from the group (a stopped worker would otherwise be listed
#: for ever), and at the start of a scan so is every other consumer with nothing pending
#: and idle for over the lease; a consumer with pending entries never is. Returns
#: {next start ("" when the scan is done), {{id, fields, deliveries, handed back 0|1}...},
#: foreign accounts seen, deleted ids, consumers removed}. Not XAUTOCLAIM itself: it
#: takes every idle entry, other accounts' too, and counts a delivery for each, so taking
#: and handing them back every lease/3 pushed them towards ``poison``; this also reads
#: alike on Redis 6.2 and 7.
RECLAIM = """
local group, me, idle, n, account = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[5]), ARGV[6]
local handed_back = tonumber(ARGV[7])
local rows = redis.call('XPENDING', KEYS[1], group, 'IDLE', idle, ARGV[4], '+', n)
local claimed, foreign, seen, gone, owners, removed = {}, {}, {}, {}, {}, {}
for _, row in ipairs(rows) do
  local id = row[1]
  local e = redis.call('XRANGE', KEYS[1], id, id)
  if #e == 0 then
    redis.call('XACK', KEYS[1], group, id)
    table.insert(gone, id)
  else
    local f, v, a = e[1][2], nil, nil
    for i = 1, #f, 2 do
      if f[i] == 'v' then v = f[i + 1] elseif f[i] == 'a' then a = f[i + 1] end
    end
    if v == '1' and a ~= nil and a ~= account then
      if not seen[a] then
        seen[a] = true
        table.insert(foreign, a)
      end
    else
      local c = redis.call('XCLAIM', KEYS[1], group, me, idle, id)
      if c[1] then
        local back = 0
        if tonumber(row[3]) >= handed_back then back = 1 end
        table.insert(claimed, {id, c[1][2], tonumber(row[4]) + 1, back})
        owners[row[2]] = true
      end
    end
  end
end
local function remove_if_empty(name)
  if name ~= me and #redis.call('XPENDING', KEYS[1], group, '-', '+', 1, name) == 0 then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], group, name)
    table.insert(removed, name)
  end
end
for name in pairs(owners) do remove_if_empty(name) end
if ARGV[4] == '-' then
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], group)) do
    local fields = {}
    for i = 1, #c, 2 do fields[c[i]] = c[i + 1] end
    if tonumber(fields['pending']) == 0 and tonumber(fields['idle']) > tonumber(idle)
        and not owners[fields['name']] then
      remove_if_empty(fields['name'])
    end
  end
end
local nxt = ''
if #rows == n then nxt = '(' .. rows[#rows][1] end
return {nxt, claimed, foreign, gone, removed}
"""

#: KEYS: stream. ARGV: group, consumer. Never delete a consumer with pending entries
#: (DELCONSUMER would drop them from the pending list: lost until someone re-reads).
DELCONSUMER_IF_IDLE = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p == 0 then
  return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
return -1
"""

"""Server-side scripts of the fleet protocol (Lua, run atomically by Redis).

A script is a transaction like ``MULTI``/``EXEC`` that can also look before it writes:
settling acknowledges, deletes and dead-letters an entry only if it still exists, so two
consumers settling the same entry (a slow owner and the peer that reclaimed it) never
count it twice; a heartbeat touches only entries still pending for this consumer, so
it never takes back an entry a peer has reclaimed.
"""

from __future__ import annotations

__all__ = ["ACK_GONE", "DELCONSUMER_IF_IDLE", "PUT", "SETTLE", "TOUCH"]

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
#: ARGV: group, entry id, events in the entry, now, account, delivered, duplicates,
#: dead count, then per dead event: key, created_at, body, reason.
#: Returns 1 when this call settled the entry, 0 when it was already gone.
SETTLE = """
local group, id = ARGV[1], ARGV[2]
if redis.call('XDEL', KEYS[1], id) == 0 then
  redis.call('XACK', KEYS[1], group, id)
  return 0
end
redis.call('XACK', KEYS[1], group, id)
redis.call('DECRBY', KEYS[3], ARGV[3])
redis.call('HINCRBY', KEYS[4], 'delivered', ARGV[6])
redis.call('HINCRBY', KEYS[4], 'duplicates', ARGV[7])
local i = 9
for _ = 1, tonumber(ARGV[8]) do
  redis.call('XADD', KEYS[2], '*', 'v', '1', 'key', ARGV[i], 't', ARGV[i + 1],
    'body', ARGV[i + 2], 'reason', ARGV[i + 3], 'a', ARGV[5], 'source', id, 'at', ARGV[4])
  redis.call('HINCRBY', KEYS[4], 'dead_lettered:' .. ARGV[i + 3], 1)
  i = i + 4
end
return 1
"""

#: KEYS: stream. ARGV: group, consumer, idle ms to set, entry ids.
#: XCLAIM ... IDLE ms JUSTID on the ids still pending for this consumer: idle 0 is a
#: heartbeat, idle = lease hands them back (a peer's XAUTOCLAIM takes them at once).
#: JUSTID leaves the delivery counters alone. Returns the ids this consumer lost.
TOUCH = """
local group, me = ARGV[1], ARGV[2]
local kept, lost = {}, {}
for i = 4, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], group, ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == me then
    table.insert(kept, ARGV[i])
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

#: KEYS: stream. ARGV: group, consumer. Never delete a consumer with pending entries
#: (DELCONSUMER would drop them from the pending list: lost until someone re-reads).
DELCONSUMER_IF_IDLE = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p == 0 then
  return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
return -1
"""

#: KEYS: stream. ARGV: group, entry ids. Acks the ids whose entry no longer exists
#: (deleted while pending); an entry that still exists is left alone. Returns the acked ids.
ACK_GONE = """
local gone = {}
for i = 2, #ARGV do
  if #redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i]) == 0 then
    redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
    table.insert(gone, ARGV[i])
  end
end
return gone
"""

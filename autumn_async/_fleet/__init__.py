"""Fleet mode's machinery: the Redis spool and the delivery loop of the workers.

``_redis_spool`` (``RedisSpool``, the only importer of redis) is built from pure
pieces: the stream entry format (``_codec``), the claim bookkeeping (``_claims``),
the Lua scripts (``_scripts``), the group commit of producer writes
(``_group_commit``) and the operators' report (``_report``). Delivery is the
batcher's: a worker (``python -m autumn_async.fleet run``, above the client) is a
delivering batcher on a ``RedisSpool`` that tracks nothing itself.
Importing this package does not import redis.
"""

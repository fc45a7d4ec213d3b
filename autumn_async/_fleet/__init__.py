"""Fleet mode's machinery: the Redis spool and the delivery loop of the workers.

``_redis_spool`` (``RedisSpool``, the only importer of redis) is built from pure
pieces: the stream entry format (``_codec``), the claim bookkeeping (``_claims``),
the Lua scripts (``_scripts``), the group commit of producer writes
(``_group_commit``) and the operators' report (``_report``). ``_deliver`` and
``_worker`` are the workers' loop: claim, send through the client's pipeline, settle.
The CLI that runs them, ``python -m autumn_async.fleet``, sits above the client.
Importing this package does not import redis.
"""

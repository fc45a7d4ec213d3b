"""Fleet mode: usage delivery through a Redis stream shared by many processes.

``python -m autumn_async.fleet run --redis URL`` runs a delivery worker;
``status`` and ``dead-letters`` are for operators. Producers hand events over with
``autumn.batcher(..., spool=RedisSpool(url), deliver=False)``. Importing this package
does not import redis.
"""

"""Fleet mode: usage delivery through a Redis stream shared by many processes.

``python -m autumn_async.fleet run --redis URL`` runs a delivery worker;
``status`` and ``dead-letters`` are for operators. Producers hand events over with
``autumn.batcher(..., spool=RedisSpool(url), deliver=False)``. Importing this package
does not import redis.

Only the command line lives here (``__main__``, above the client, like ``autumn_sync``);
the spool and the delivery loop are in ``autumn_async._fleet``.
"""

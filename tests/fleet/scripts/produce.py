"""A producer process: ``produce.py REDIS_URL ACCOUNT EVENTS THREADS``.

Each thread hands events over one ``put_blocking`` at a time (as a sync ``track()``
would) and prints each key on stdout once the call has returned, i.e. once the event is
durable in Redis. Prints ``done`` at the end.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import uuid

from autumn_async._fleet._redis_spool import RedisSpool
from autumn_async._fleet._spool import SpooledEvent


def main() -> None:
    url, account, total, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    spool = RedisSpool(url)

    async def bind() -> None:
        await spool.open(account)

    asyncio.run(bind())
    lock = threading.Lock()

    def produce(n: int) -> None:
        for _ in range(n):
            key = uuid.uuid4().hex
            body = {"customer_id": "c1", "feature_id": "messages", "value": 1,
                    "idempotency_key": key}  # fmt: skip
            event = SpooledEvent(key, json.dumps(body, separators=(",", ":")).encode(), time.time())
            spool.put_blocking([event])
            with lock:
                sys.stdout.write(key + "\n")
                sys.stdout.flush()

    workers = [threading.Thread(target=produce, args=(total // threads,)) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print("done", flush=True)


if __name__ == "__main__":
    main()

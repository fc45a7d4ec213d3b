"""A web process: ``track_producer.py REDIS_URL SERVER_URL EVENTS``.

``autumn_sync.Autumn(...).batcher(spool=RedisSpool(url), deliver=False)`` with default
options, ``track()`` in a loop; prints each key once ``track()`` has returned (the
event is durable in Redis then). The secret key comes from ``AUTUMN_SECRET_KEY``.
"""

from __future__ import annotations

import sys
import uuid

from autumn_sync import Autumn, RedisSpool


def main() -> None:
    url, server_url, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
    autumn = Autumn(server_url=server_url)
    batcher = autumn.batcher(spool=RedisSpool(url), deliver=False)
    for _ in range(total):
        key = uuid.uuid4().hex
        batcher.track(customer_id="c1", feature_id="messages", value=1, idempotency_key=key)
        sys.stdout.write(key + "\n")
        sys.stdout.flush()
    batcher.close()
    autumn.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()

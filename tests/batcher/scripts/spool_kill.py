"""Track events into a spool, printing each acknowledged index, until killed.

Usage: spool_kill.py URL SPOOL MODE, where MODE is ``sync`` (the sync batcher, one thread)
or ``async``. Nothing is delivered (the flush interval is an hour and the server URL
may be unreachable): only the spool can keep what ``track()`` acknowledged. Prints
``ready`` once started, then ``i`` after ``track(idempotency_key=f"ack-{i}")`` returns.
"""

import asyncio
import sys

from autumn_async import AsyncAutumn
from autumn_sync import Autumn


def run_sync(url: str, spool: str) -> None:
    autumn = Autumn(secret_key="am_sk_test", server_url=url)
    batcher = autumn.batcher(spool_path=spool, flush_interval=3600.0, max_batch_size=1000)
    print("ready", flush=True)
    i = 0
    while True:
        batcher.track(customer_id="c1", feature_id="messages", idempotency_key=f"ack-{i}")
        sys.stdout.write(f"{i}\n")
        if i % 20 == 0:
            sys.stdout.flush()
        i += 1


async def run_async(url: str, spool: str) -> None:
    async with AsyncAutumn(secret_key="am_sk_test", server_url=url) as autumn:
        batcher = autumn.batcher(spool_path=spool, flush_interval=3600.0)
        await batcher.__aenter__()
        print("ready", flush=True)
        i = 0
        while True:
            await batcher.track(customer_id="c1", feature_id="messages", idempotency_key=f"ack-{i}")
            sys.stdout.write(f"{i}\n")
            if i % 20 == 0:
                sys.stdout.flush()
            i += 1


if __name__ == "__main__":
    if sys.argv[3] == "sync":
        run_sync(sys.argv[1], sys.argv[2])
    else:
        asyncio.run(run_async(sys.argv[1], sys.argv[2]))

"""Track events through a spooled batcher, or resume what a spool holds.

Usage: spool_worker.py URL SPOOL COUNT PHASE, where PHASE is ``enqueue`` (track COUNT
events, say so on stdout, then deliver them) or ``resume`` (deliver what the spool holds
and print the batcher's counters as JSON).
"""

import asyncio
import json
import sys

import attrs

from autumn_async import AsyncAutumn
from autumn_async._retry import BackoffStrategy, RetryConfig

INSTANT = RetryConfig("backoff", BackoffStrategy(0, 0, 1.0, 60_000), True, max_attempts=5)


async def main(url: str, spool: str, count: int, phase: str) -> None:
    async with AsyncAutumn(secret_key="am_sk_test", server_url=url, retry_config=INSTANT) as autumn:
        mode = "track" if phase == "enqueue" else "batch_track"
        async with autumn.batcher(
            mode=mode, spool_path=spool, max_concurrency=4, flush_interval=0.01
        ) as batcher:
            for start in range(0, count, 500):
                # Concurrent calls share one spool commit (group commit).
                await asyncio.gather(
                    *(
                        batcher.track(customer_id="c1", feature_id="messages", value=2)
                        for _ in range(start, min(start + 500, count))
                    )
                )
            if phase == "enqueue":
                print("enqueued", flush=True)
            await batcher.flush()
            print(json.dumps(attrs.asdict(batcher.stats)), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))

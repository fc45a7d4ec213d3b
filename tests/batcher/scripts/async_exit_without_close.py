"""Track COUNT events through an async batcher in ``asyncio.run`` and exit without closing.

Usage: async_exit_without_close.py URL COUNT. The flush interval is an hour, so nothing
is sent while the loop runs: only the interpreter-exit close can deliver the events.
"""

import asyncio
import sys

from autumn_async import AsyncAutumn

CLIENT: AsyncAutumn | None = None


async def main(url: str, count: int) -> None:
    global CLIENT
    CLIENT = AsyncAutumn(secret_key="am_sk_test", server_url=url)
    batcher = CLIENT.batcher(flush_interval=3600.0)
    for i in range(count):
        await batcher.track(customer_id="c1", feature_id="messages", idempotency_key=f"x{i}")
    print("tracked", batcher.stats.enqueued, "delivered", batcher.stats.delivered, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))

"""Feed a sync batcher from threads and exit without closing it.

Usage: exit_without_close.py URL COUNT. The interval is an hour, so nothing is sent
before exit: only the at-exit drain can deliver the events.
"""

import sys
import threading

from autumn_async import AsyncAutumn
from autumn_async._retry import BackoffStrategy, RetryConfig
from autumn_sync import _portal
from autumn_sync._batcher import UsageBatcher

INSTANT = RetryConfig("backoff", BackoffStrategy(0, 0, 1.0, 60_000), True, max_attempts=5)


def main(url: str, count: int) -> None:
    client = AsyncAutumn(secret_key="am_sk_test", server_url=url, retry_config=INSTANT)
    # What the sync client does for itself: close at exit, after its batchers drained.
    _portal.register_shutdown(client.aclose)
    batcher = UsageBatcher(client, mode="batch_track", flush_interval=3600.0)
    threads = [
        threading.Thread(
            target=lambda: [
                batcher.track(customer_id="c1", feature_id="messages") for _ in range(count // 4)
            ]
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert batcher.stats.delivered == 0
    print("tracked", batcher.stats.enqueued, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))

"""A sync batcher holding events across os.fork(): each process delivers only its own.

Usage: fork_batcher.py URL. Prints the child's and the parent's counters.
"""

import os
import sys
import warnings

from autumn_async import AsyncAutumn
from autumn_async._retry import BackoffStrategy, RetryConfig
from autumn_sync import _portal
from autumn_sync._batcher import UsageBatcher

INSTANT = RetryConfig("backoff", BackoffStrategy(0, 0, 1.0, 60_000), True, max_attempts=5)
# Python 3.12+ warns about forking a process with threads; forking is what is tested.
warnings.filterwarnings("ignore", "This process", DeprecationWarning)


def track(batcher: UsageBatcher, prefix: str, count: int) -> None:
    for i in range(count):
        batcher.track(customer_id="c1", feature_id="messages", idempotency_key=f"{prefix}{i}")


def main(url: str) -> int:
    client = AsyncAutumn(secret_key="am_sk_test", server_url=url, retry_config=INSTANT)
    _portal.register_shutdown(client.aclose)
    batcher = UsageBatcher(client, mode="track", flush_interval=3600.0)
    track(batcher, "parent-", 10)  # queued, not sent: the interval is an hour
    pid = os.fork()
    if pid == 0:
        stats = batcher.stats
        assert (stats.enqueued, stats.queued) == (0, 0), stats
        track(batcher, "child-", 5)
        batcher.close()
        print("child", batcher.stats.enqueued, batcher.stats.delivered, flush=True)
        sys.exit(0)  # a normal exit: the child's at-exit clean-up runs too
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
    track(batcher, "parent-late-", 3)
    batcher.close()
    print("parent", batcher.stats.enqueued, batcher.stats.delivered, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

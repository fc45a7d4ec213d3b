"""Exit with a batcher that still holds events, never closed, on a host name (not an IP).

Usage: batcher_exit_flush.py PORT. Connecting to ``localhost`` needs a name lookup, which
asyncio runs in a thread: at exit, where 3.12 refuses new threads, the flush must still
deliver.
"""

from __future__ import annotations

import sys

import _load_tolerant  # noqa: F401  (a 5 s slow-callback threshold, before any loop exists)

from autumn_sync import Autumn

autumn = Autumn(secret_key="am_sk_test", server_url=f"http://localhost:{sys.argv[1]}")
batcher = autumn.batcher(flush_interval=60)
for value in (1, 2, 3):
    batcher.track(customer_id="c1", feature_id="messages", value=value)
print("main done", flush=True)

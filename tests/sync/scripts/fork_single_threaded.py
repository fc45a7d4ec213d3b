"""fork() with the shared loop's thread alive (a batcher), as gunicorn --preload does.

Usage: fork_single_threaded.py URL. On 3.12+, forking while the loop thread (or an idle
executor thread) runs warns "This process ... is multi-threaded, use of fork() may lead
to deadlocks". The parent's batcher must go on delivering after the fork; the child
uses the client on its own loop.
"""

from __future__ import annotations

import os
import sys
import threading

import _load_tolerant  # noqa: F401  (a 5 s slow-callback threshold, before any loop exists)

from autumn_sync import Autumn

URL = sys.argv[1]
autumn = Autumn(secret_key="am_sk_test", server_url=URL)
batcher = autumn.batcher(flush_interval=0.05)
batcher.track(customer_id="c1", feature_id="messages", value=1)
batcher.flush()
print(f"threads before fork: {sorted(t.name for t in threading.enumerate())}", flush=True)
pid = os.fork()
if pid == 0:
    res = autumn.balances.track(customer_id="c1", feature_id="messages", value=2)
    print(f"child tracked {res.value:g}", flush=True)
    sys.exit(0)
_, status = os.waitpid(pid, 0)
print(f"child exit {os.waitstatus_to_exitcode(status)}", flush=True)
batcher.track(customer_id="c1", feature_id="messages", value=4)
batcher.flush()
print("parent batcher flushed", flush=True)
batcher.close()
autumn.close()

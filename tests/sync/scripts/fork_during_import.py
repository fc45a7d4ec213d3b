"""fork() while another thread is inside the SDK's first-use import of its HTTP stack.

Usage: fork_during_import.py URL. A thread creates the first client (which imports
aiohttp); an import hook holds it inside aiohttp's import until the fork begins. The
child must then find whole modules and make a call; prints one line per step.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
import threading
import warnings
from typing import Any

import _load_tolerant  # noqa: F401  (a 5 s slow-callback threshold, before any loop exists)

from autumn_sync import Autumn

URL = sys.argv[1]
inside = threading.Event()
forking = threading.Event()


class Hold(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "aiohttp.connector" and threading.current_thread() is not main:
            inside.set()
            forking.wait()  # released by the fork's first before-hook, below


# This scenario forks with a second thread by design; 3.12+ says so, and that is not the
# SDK's doing.
warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
main = threading.main_thread()
sys.meta_path.insert(0, Hold())
# Registered after the SDK's hooks, so it runs before them: the fork has begun.
os.register_at_fork(before=forking.set)
creator = threading.Thread(target=Autumn, kwargs={"secret_key": "am_sk_test", "server_url": URL})
creator.start()
inside.wait()
pid = os.fork()
if pid == 0:
    with Autumn(secret_key="am_sk_test", server_url=URL) as child_client:
        res = child_client.balances.track(customer_id="c1", feature_id="messages", value=2)
    print(f"child tracked {res.value:g}", flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
print(f"child exit {os.waitstatus_to_exitcode(status)}", flush=True)
creator.join()
with Autumn(secret_key="am_sk_test", server_url=URL) as client:
    res = client.balances.track(customer_id="c1", feature_id="messages", value=4)
print(f"parent tracked {res.value:g}", flush=True)

"""A signal handler calls the blocking client while the first call is under way.

Usage: signal_during_first_call.py URL. The signal is raised at the first import of
aiohttp's connector made during the first call (where the SDK used to import its HTTP
stack), else when that call reaches the transport's send. Prints one line per call.
"""

from __future__ import annotations

import importlib.abc
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

import _load_tolerant  # noqa: F401  (a 5 s slow-callback threshold, before any loop exists)

from autumn_sync import Autumn

autumn = Autumn(secret_key="am_sk_test", server_url=sys.argv[1])
in_first_call = False
raised = False


def raise_signal() -> None:
    global raised
    if in_first_call and not raised and threading.current_thread() is threading.main_thread():
        raised = True
        os.kill(os.getpid(), signal.SIGUSR1)


class Trip(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "aiohttp.connector":
            raise_signal()


def profile(frame: FrameType, event: str, arg: object) -> None:
    code = frame.f_code
    if event == "call" and code.co_name == "send" and code.co_filename.endswith("_transport.py"):
        raise_signal()


def handler(signum: int, frame: FrameType | None) -> None:
    res = autumn.balances.check(customer_id="c1", feature_id="messages")
    print(f"handler checked {res.customer_id}", flush=True)


signal.signal(signal.SIGUSR1, handler)
sys.meta_path.insert(0, Trip())
sys.setprofile(profile)
in_first_call = True
res = autumn.balances.check(customer_id="c1", feature_id="messages")
in_first_call = False
sys.setprofile(None)
print(f"first call checked {res.customer_id}; signal raised: {raised}", flush=True)

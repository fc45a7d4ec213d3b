"""The blocking client as legacy code uses it: across a fork, then exit without closing.

Usage: sync_client_lifecycle.py URL. The parent makes a call, forks; the child makes its
own calls and ends with a normal sys.exit (its at-exit clean-up runs); the parent goes on
calling, then exits without ever closing the client. Prints one line per step.
"""

import os
import sys

import _load_tolerant  # noqa: F401  (a 5 s slow-callback threshold, before the loop exists)

from autumn_sync import Autumn


def main(url: str) -> int:
    autumn = Autumn(secret_key="am_sk_test", server_url=url)
    autumn.balances.track(customer_id="c1", feature_id="messages")
    print("parent tracked", flush=True)
    child = os.fork()
    if child == 0:
        res = autumn.balances.track(customer_id="c1", feature_id="messages", value=2)
        print(f"child tracked {res.value:g}", flush=True)
        sys.exit(0)  # a normal exit: atexit and finalisers run in the child
    _, status = os.waitpid(child, 0)
    print(f"child exit {os.waitstatus_to_exitcode(status)}", flush=True)
    res = autumn.balances.track(customer_id="c1", feature_id="messages", value=4)
    print(f"parent tracked {res.value:g}", flush=True)
    return 0  # never closed: the interpreter's exit must stay silent


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

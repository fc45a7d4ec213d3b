"""The blocking client as legacy code uses it: across a fork, then exit without closing.

Usage: sync_client_lifecycle.py URL. The parent makes a call, forks; the child makes its
own calls and ends with a normal sys.exit (its at-exit clean-up runs); the parent goes on
calling, then exits without ever closing the client. Prints one line per step.
"""

import asyncio
import os
import sys

from autumn_sync import Autumn


class _LoadTolerantPolicy(asyncio.DefaultEventLoopPolicy):
    """Loops whose slow-callback threshold suits a loaded 2-core CI machine.

    asyncio's debug mode (on in the suite) logs any step over 0.1 s; on a busy machine a
    step can be descheduled that long, and this script's stderr must stay empty for the
    reasons it tests, not for the machine's load.
    """

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()
        loop.slow_callback_duration = 5.0
        return loop


asyncio.set_event_loop_policy(_LoadTolerantPolicy())


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

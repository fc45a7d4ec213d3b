"""``fork_producer.py REDIS_URL``: hand over before and after fork(), in parent and child."""

from __future__ import annotations

import asyncio
import os
import sys
import time

from autumn_async._fleet._redis_spool import RedisSpool
from autumn_async._fleet._spool import SpooledEvent


def main() -> None:
    spool = RedisSpool(sys.argv[1])
    asyncio.run(spool.open("acct"))
    spool.put_blocking([SpooledEvent("parent-1", b"{}", time.time())])
    pid = os.fork()
    if pid == 0:
        spool.after_fork_in_child()
        spool.put_blocking([SpooledEvent("child-1", b"{}", time.time())])
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    spool.put_blocking([SpooledEvent("parent-2", b"{}", time.time())])
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()

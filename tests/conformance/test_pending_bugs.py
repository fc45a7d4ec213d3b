"""SDK bugs found by the conformance suite, pinned until the SDK's owner fixes them.

Each test states the intended behaviour and is ``xfail(strict=True)``: when the fix
lands it passes, the strict xfail fails the run, and the marker must be removed.
(Huge integer amounts raising OverflowError are pinned in tests/reliability/test_pending_bugs.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from autumn_async.emulator import EmulatorThread

_FIRST_CALL_IMPORTS = r"""
import asyncio, os, sys
from autumn_async import AsyncAutumn

async def main():
    async with AsyncAutumn(server_url=os.environ["URL"], secret_key=os.environ["KEY"]) as autumn:
        await autumn.warm_up()
        before = set(sys.modules)
        await autumn.balances.check(customer_id="c1", feature_id="messages")
        print(sorted(m for m in set(sys.modules) - before if m.startswith(("autumn", "cattrs"))))

asyncio.run(main())
"""


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason=(
        "AsyncAutumn.warm_up() imports only autumn_async._transport; the first call still "
        "imports _balances, _requests, _serde, models and cattrs on the event loop (~70 ms, "
        "vs 2 ms for the second call), which README says warm_up avoids"
    ),
)
def test_warm_up_leaves_nothing_to_import_on_the_first_call(
    autumn_emulator_thread: EmulatorThread,
) -> None:
    """After warm_up() the first request imports no module on the event loop."""
    emu = autumn_emulator_thread
    emu.add_feature("messages")
    emu.add_customer("c1")
    env = {**os.environ, "URL": emu.url, "KEY": emu.secret_key}
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_CALL_IMPORTS],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    assert done.stdout.strip() == "[]"

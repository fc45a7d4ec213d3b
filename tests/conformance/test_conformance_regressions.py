"""Bugs the conformance suite found, each kept as a test of its fix."""

from __future__ import annotations

import os
import subprocess
import sys

from autumn_emulator import EmulatorThread

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

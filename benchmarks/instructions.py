"""Instructions per call, counted by valgrind's callgrind: a figure other load cannot move.

On a shared machine, wall and CPU times move by 10-20 % from one run to the next; the
number of instructions a call executes does not. Each client runs ``--calls`` and then
``--calls + --extra`` sequential ``check`` calls in two processes under callgrind
(warm-up, imports and start-up cancel out in the difference), so the figure is the
marginal user-space instructions of one call. The kernel's share (syscalls: socket I/O,
epoll, futex wake-ups) is not counted, which flatters a cross-thread hand-off; time it
with ``run.py`` too.

    .venv/bin/python benchmarks/instructions.py                  # all clients, both installs
    .venv/bin/python benchmarks/instructions.py --only aiohttp,ours-sync --block orjson,uvloop

Needs ``valgrind``. Prints one line per client and writes ``instructions.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from run import cores, start_server

HERE = Path(__file__).resolve().parent
CLIENTS = ("aiohttp", "http.client", "ours-async", "ours-sync", "ours-sync (shared loop)")

_CHILD = r"""
import asyncio, json, sys
sys.path.insert(0, {here!r})
import probe
if {block!r}:
    sys.meta_path.insert(0, probe._Blocker(set({block!r}.split(","))))
from adapters import ADAPTERS, CUSTOMER_ID, FEATURE_ID
client, base, calls = {client!r}, {base!r}, {calls}
if client == "ours-sync (shared loop)":
    from autumn_sync import _portal
    adapter = ADAPTERS["ours-sync"]()
    adapter.open(base)
    inner = adapter.client.async_client.balances
    def check():
        return _portal.run(inner.check(customer_id=CUSTOMER_ID, feature_id=FEATURE_ID))
    for _ in range(20 + calls):
        check()
    adapter.close()
else:
    adapter = ADAPTERS[client]()
    if adapter.kind == "async":
        async def main():
            await adapter.open(base)
            for _ in range(20 + calls):
                await adapter.check()
            await adapter.close()
        asyncio.run(main())
    else:
        adapter.open(base)
        for _ in range(20 + calls):
            adapter.check()
        adapter.close()
"""


def count(client: str, base: str, calls: int, block: str, cpu: int | None) -> int:
    """User-space instructions of a whole process making ``calls`` (+20 warm-up) checks."""
    code = _CHILD.format(here=str(HERE), block=block, client=client, base=base, calls=calls)
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    cmd += [sys.executable, "-c", code]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONASYNCIO", "AUTUMN_"))}
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1])
    match = re.search(r"Collected : (\d+)", done.stderr)
    if match is None:
        raise RuntimeError("callgrind printed no total")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated clients")
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--extra", type=int, default=500)
    parser.add_argument("--block", default=None, help="one install only: '' or 'orjson,uvloop'")
    parser.add_argument("--out", type=Path, default=HERE / "instructions.json")
    opts = parser.parse_args()
    clients = [c for c in CLIENTS if not opts.only or c in opts.only.split(",")]
    installs = [opts.block] if opts.block is not None else ["orjson,uvloop", ""]
    server_cpu, client_cpu = cores()
    server, base = start_server(server_cpu)
    results: dict[str, dict[str, float]] = {}
    try:
        for block in installs:
            label = "default install" if block else "with the speed extra"
            for client in clients:
                low = count(client, base, opts.calls, block, client_cpu)
                high = count(client, base, opts.calls + opts.extra, block, client_cpu)
                per_call = (high - low) / opts.extra
                results.setdefault(label, {})[client] = per_call
                floor = results[label].get("aiohttp")
                ratio = f"{per_call / floor:.2f}x aiohttp" if floor else ""
                print(f"{label:22} {client:26} {per_call:12,.0f} instr/call {ratio}", flush=True)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)
    opts.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Command line: ``python -m autumn_emulator --port 8787 --secret-key am_sk_test``.

Prints ``Autumn emulator listening on <url>`` on one line once it accepts connections
(``--port 0`` picks a free port and prints the real one) and serves until SIGINT or
SIGTERM, then exits with status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._server import DEFAULT_SECRET_KEY, Emulator

__all__ = ["load_seed", "main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autumn_emulator",
        description="Run a stateful local Autumn API for demos and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port, 0 for a free one (8787)")
    parser.add_argument(
        "--secret-key",
        action="append",
        dest="secret_keys",
        help=f"accepted secret key; repeat for several (default {DEFAULT_SECRET_KEY})",
    )
    parser.add_argument(
        "--seed-file",
        type=Path,
        help='JSON file {"features": [...], "customers": [{"id": ...}], "balances": [...]}',
    )
    parser.add_argument(
        "--auto-create-customers",
        action="store_true",
        help="let check and track create unknown customers instead of answering 404",
    )
    return parser


def load_seed(emulator: Emulator, seed: dict[str, Any]) -> None:
    """Apply a seed document: features, then customers, then balances."""
    state = emulator.state
    for feature in seed.get("features", []):
        state.add_feature(feature)
    for customer in seed.get("customers", []):
        entities = [e["id"] if isinstance(e, dict) else e for e in customer.get("entities", [])]
        state.add_customer(customer["id"], customer.get("name"), entities)
    for balance in seed.get("balances", []):
        state.seed_balance(balance)


async def _serve(args: argparse.Namespace) -> None:
    keys = args.secret_keys or [DEFAULT_SECRET_KEY]
    emulator = Emulator(
        secret_key=keys[0],
        extra_secret_keys=keys[1:],
        host=args.host,
        port=args.port,
        auto_create_customers=args.auto_create_customers,
    )
    if args.seed_file is not None:
        load_seed(emulator, json.loads(args.seed_file.read_text(encoding="utf-8")))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Windows has no loop signal handlers; Ctrl-C then arrives as KeyboardInterrupt.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with emulator:
        print(f"Autumn emulator listening on {emulator.url}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until interrupted; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:  # pragma: no cover - only where signal handlers are missing
        pass
    except (OSError, ValueError, KeyError) as exc:
        print(f"autumn emulator: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Command line: ``autumn-emulator --port 8787`` (also ``python -m autumn_emulator``).

Prints ``Autumn emulator listening on <url>`` on one line once it accepts connections
(``--port 0`` picks a free port and prints the real one) and serves until SIGINT or
SIGTERM, then exits with status 0. Bad arguments and bad seed files exit with status 2 and
one line naming the file and the field, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import ipaddress
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._api_errors import ApiError
from ._server import DEFAULT_SECRET_KEY, Emulator

__all__ = ["SeedError", "is_loopback", "load_seed", "main"]

_SEED_SECTIONS = ("features", "customers", "balances")


class SeedError(ValueError):
    """A seed document that cannot be applied; the message names the field."""


def _version() -> str:
    try:
        return importlib.metadata.version("autumn-balances")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a bare tree
        return "unknown"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {port}")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autumn-emulator",
        description="Run a stateful local Autumn API for demos and tests.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (127.0.0.1); the admin routes have no authentication, "
        "so anything but loopback exposes them",
    )
    parser.add_argument("--port", type=_port, default=8787, help="port, 0 for a free one (8787)")
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


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the emulator reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def _entity_ids(customer: dict[str, Any], where: str) -> list[str]:
    entities = customer.get("entities", [])
    if not isinstance(entities, list):
        raise SeedError(f"{where}.entities: must be an array")
    ids = []
    for index, entity in enumerate(entities):
        entity_id = entity.get("id") if isinstance(entity, dict) else entity
        if not isinstance(entity_id, str) or not entity_id:
            raise SeedError(f"{where}.entities[{index}]: must be an id or an object with an id")
        ids.append(entity_id)
    return ids


def load_seed(emulator: Emulator, seed: object) -> None:
    """Apply a seed document: features, then customers, then balances.

    Raises :class:`SeedError` naming the first field that is wrong (``balances[2]: ...``).
    """
    if not isinstance(seed, dict):
        raise SeedError("the document must be a JSON object")
    unknown = sorted(set(seed) - set(_SEED_SECTIONS))
    if unknown:
        raise SeedError(f"{unknown[0]}: unknown section (expected {', '.join(_SEED_SECTIONS)})")
    for section in _SEED_SECTIONS:
        if not isinstance(seed.get(section, []), list):
            raise SeedError(f"{section}: must be an array")
    state = emulator.state
    for section in _SEED_SECTIONS:
        for index, item in enumerate(seed.get(section, [])):
            where = f"{section}[{index}]"
            if not isinstance(item, dict):
                raise SeedError(f"{where}: must be an object")
            try:
                if section == "features":
                    state.add_feature(item)
                elif section == "customers":
                    customer_id, name = item.get("id"), item.get("name")
                    if not isinstance(customer_id, str) or not customer_id:
                        raise SeedError(f"{where}.id: must be a non-empty string")
                    if name is not None and not isinstance(name, str):
                        raise SeedError(f"{where}.name: must be a string")
                    state.add_customer(customer_id, name, _entity_ids(item, where))
                else:
                    state.seed_balance(item)
            except ApiError as exc:
                raise SeedError(f"{where}: {exc.message}") from None


def _read_seed(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedError(f"cannot read it: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeedError(f"not valid JSON: {exc}") from None


async def _serve(args: argparse.Namespace, seed: object) -> None:
    keys = args.secret_keys or [DEFAULT_SECRET_KEY]
    emulator = Emulator(
        secret_key=keys[0],
        extra_secret_keys=keys[1:],
        host=args.host,
        port=args.port,
        auto_create_customers=args.auto_create_customers,
    )
    if seed is not None:
        try:
            load_seed(emulator, seed)
        except SeedError as exc:
            raise SeedError(f"seed file {args.seed_file}: {exc}") from None
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
    parser = _parser()
    args = parser.parse_args(argv)
    seed = None
    if args.seed_file is not None:
        try:
            seed = _read_seed(args.seed_file)
        except SeedError as exc:
            parser.error(f"seed file {args.seed_file}: {exc}")
    if not is_loopback(args.host):
        print(
            f"WARNING: binding {args.host}: the emulator's admin routes (/_emulator/: seed, "
            "reset, faults, the ledger) have NO authentication, and anyone who can reach "
            "this port can use them. Bind 127.0.0.1 unless the network is trusted.",
            file=sys.stderr,
            flush=True,
        )
    try:
        asyncio.run(_serve(args, seed))
    except KeyboardInterrupt:  # pragma: no cover - only where signal handlers are missing
        pass
    except SeedError as exc:
        parser.error(str(exc))
    except OSError as exc:
        print(f"autumn-emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m autumn_async.fleet run|status|dead-letters``: workers and operator tools.

``run`` delivers usage from the Redis stream to Autumn until SIGTERM or SIGINT, then
drains for at most ``--drain-timeout`` seconds, hands unfinished entries back and exits
with status 0. The secret key and server URL come from ``AUTUMN_SECRET_KEY`` and
``AUTUMN_SERVER_URL``; the Redis URL from ``--redis`` or ``AUTUMN_REDIS_URL``.
Exit status: 0 done, 1 Redis or Autumn unusable, 2 bad arguments, 3 Autumn refused the
secret key (401/403; at start nothing is claimed, later the events are handed back).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autumn_async._client import AsyncAutumn

__all__ = ["main"]

ENV_REDIS_URL = "AUTUMN_REDIS_URL"
#: A cheap read every valid secret key may make (``GET /v1/features``: the server's
#: ``internal/features/featureRouter.ts``, ``handleListFeatures.ts``): checks the key
#: before the worker claims anything.
KEY_CHECK_PATH = "/v1/features"
EXIT_KEY_REFUSED = 3


class KeyRefusedError(Exception):
    """Autumn refused the secret key (401/403): the message names the problem, never the key."""


def _refused(status: int, code: str | None, server_url: str, when: str) -> KeyRefusedError:
    return KeyRefusedError(
        f"Autumn at {server_url} refused the secret key ({status} {code or 'no code'}) {when}: "
        "check AUTUMN_SECRET_KEY (a secret key of this organisation and environment)"
    )


async def _check_key(client: AsyncAutumn) -> None:
    """One authenticated GET; a 401/403 raises :class:`KeyRefusedError`, anything else
    (Autumn unreachable, 5xx) is logged and the worker starts: it retries deliveries."""
    from autumn_async._errors import AutumnError, error_from_response  # noqa: PLC0415
    from autumn_async._http import Request  # noqa: PLC0415
    from autumn_async._log import sdk_logger  # noqa: PLC0415

    pipeline: Any = client.pipeline
    request = Request("GET", pipeline._url(KEY_CHECK_PATH), b"", {}, pipeline._timeout)
    try:
        response = await pipeline.transport.send(request, pipeline._headers)
    except AutumnError as exc:
        sdk_logger("fleet").warning(
            "could not check the secret key (%s); starting anyway", type(exc).__name__
        )
        return
    if response.status in (401, 403):
        error = error_from_response(
            response.status, response.headers, response.body, now=time.time(),
            secret=pipeline._secret,
        )  # fmt: skip
        raise _refused(
            response.status, error.code, client.server_url, "at start; nothing was claimed"
        )
    if not 200 <= response.status < 300:
        sdk_logger("fleet").warning(
            "could not check the secret key (HTTP %d); starting anyway", response.status
        )


def _seconds(*, zero: bool) -> Any:
    """An argparse type: a finite number of seconds, > 0 (or >= 0 with ``zero``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
            least = "0 or more" if zero else "more than 0"
            raise argparse.ArgumentTypeError(f"must be a finite number of seconds, {least}")
        return value

    return parse


def _count(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("must be a whole number of at least 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autumn_async.fleet", description="Autumn usage delivery workers."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--redis", default=os.environ.get(ENV_REDIS_URL), help="Redis URL")
    common.add_argument("--stream", default="{autumn}:usage", help="work stream name")
    common.add_argument("--group", default="autumn-delivery", help="consumer group name")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        parents=[common],
        help="deliver usage until SIGTERM",
        description="Deliver usage from the Redis stream to Autumn until SIGTERM or SIGINT.",
        epilog=(
            f"environment: {ENV_REDIS_URL} (the Redis URL, unless --redis is given), "
            "AUTUMN_SECRET_KEY (required), AUTUMN_SERVER_URL (default "
            "https://api.useautumn.com)"
        ),
    )
    run.add_argument("--concurrency", type=_count, default=4, help="batches in flight (4)")
    run.add_argument(
        "--lease", type=_seconds(zero=False), default=30.0, help="claim lease in seconds (30)"
    )
    run.add_argument(
        "--drain-timeout",
        type=_seconds(zero=True),
        default=10.0,
        help="seconds to finish on SIGTERM (10)",
    )
    status = commands.add_parser("status", parents=[common], help="backlog, pending, dead")
    status.add_argument("--json", action="store_true", help="print JSON")
    dead = commands.add_parser("dead-letters", help="list, requeue or drop dead letters")
    actions = dead.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common])
    listing.add_argument("--limit", type=_count, default=100, help="how many, oldest first (100)")
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    for name in ("requeue", "drop"):
        action = actions.add_parser(name, parents=[common])
        action.add_argument("ids", nargs="*", help="dead-letter ids (from list)")
        action.add_argument("--all", action="store_true", help="every dead letter")
    return parser


def _spool(args: argparse.Namespace, **options: Any) -> Any:
    from autumn_async._fleet._redis_spool import RedisSpool  # noqa: PLC0415 (redis only when used)

    return RedisSpool(args.redis, stream=args.stream, group=args.group, **options)


async def _run(args: argparse.Namespace) -> int:
    # A worker is a delivering batcher on the stream that tracks nothing itself: the
    # batcher's dispatcher and the one retry policy deliver what it claims.
    from autumn_async._batcher import WorkerFace  # noqa: PLC0415
    from autumn_async._client import AsyncAutumn  # noqa: PLC0415

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    spool = _spool(args, lease=args.lease)
    async with AsyncAutumn() as client:
        await _check_key(client)
        batcher = client.batcher(
            spool=spool, max_concurrency=min(args.concurrency, client.max_connections)
        )
        refused: asyncio.Task[str] | None = None
        try:
            await batcher.__aenter__()  # opens the spool and starts claiming
            print(f"autumn fleet worker {spool.consumer} reading {args.stream}", flush=True)
            # A key refused mid-run (revoked, rotated): the spool has handed the events
            # back instead of dead-lettering them; stop, and say why.
            refused = asyncio.ensure_future(spool.wait_key_refused())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait([refused, stopping], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
        finally:
            await WorkerFace(batcher).hand_back(args.drain_timeout)
            if refused is not None and not refused.done():
                refused.cancel()
        if refused.done() and not refused.cancelled():
            status, _sep, code = refused.result().removeprefix("rejected:").partition(":")
            raise _refused(
                int(status), code, client.server_url,
                "while delivering; the events were handed back to Redis, none dead-lettered",
            )  # fmt: skip
    return 0


async def _status(args: argparse.Namespace) -> int:
    spool = _spool(args)
    try:
        status = await spool.status()
    finally:
        await spool.close()
    if args.json:
        print(json.dumps(status, sort_keys=True))
        return 0
    for name in ("pending", "entries", "claimed_entries", "unread_entries", "dead_letters"):
        print(f"{name:<20} {status[name]}")
    print(f"{'oldest_pending_age':<20} {status['oldest_pending_age']:.1f}s")
    for consumer in status["consumers"]:
        print(
            f"consumer {consumer['name']}: {consumer['pending']} pending, idle {consumer['idle']}s"
        )
    for name, value in sorted(status["counters"].items()):
        print(f"{name:<20} {value}")
    return 0


async def _dead_letters(args: argparse.Namespace) -> int:
    spool = _spool(args)
    try:
        if args.action == "list":
            letters = await spool.dead_letters(args.limit)
            for letter in letters:
                if args.json:
                    print(json.dumps(letter.to_json(), sort_keys=True))
                else:
                    note = f" (cannot be requeued: {letter.problem})" if letter.problem else ""
                    print(f"{letter.id} {letter.key or '-'} {letter.reason}{note}")
            if not letters:
                print("no dead letters", file=sys.stderr if args.json else sys.stdout)
            if len(letters) == args.limit:
                print(f"(the oldest {args.limit}; --limit N shows more)", file=sys.stderr)
            return 0
        if not args.ids and not args.all:
            print("give dead-letter ids or --all", file=sys.stderr)
            return 2
        ids = None if args.all else args.ids
        unknown = [] if ids is None else await spool.missing_dead_letters(ids)
        if args.action == "requeue":
            count, skipped = await spool.requeue_letters(ids)
            for letter in skipped:
                print(f"skipped {letter.id}: {letter.problem} (drop it by id)", file=sys.stderr)
            print(f"requeued {count}")
            count += len(skipped)
        else:
            count = await spool.drop_dead_letters(ids)
            print(f"dropped {count}")
        if unknown:
            print(f"not dead letters (nothing done to them): {' '.join(unknown)}", file=sys.stderr)
            return 1
    finally:
        await spool.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help (0), bad arguments (2): a status, as documented
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.redis:
        print(f"no Redis URL: pass --redis or set {ENV_REDIS_URL}", file=sys.stderr)
        return 2
    command = {"run": _run, "status": _status, "dead-letters": _dead_letters}[args.command]
    from autumn_async._errors import AutumnError, UsageError  # noqa: PLC0415

    try:
        return asyncio.run(command(args))
    except KeyRefusedError as exc:  # Autumn refused the key: restarting will not help
        _fail(exc, args.redis)
        return EXIT_KEY_REFUSED
    except UsageError as exc:  # a bad option or id: refused before anything was done
        _fail(exc, args.redis)
        return 2
    except AutumnError as exc:  # Redis unreachable or refusing
        _fail(exc, args.redis)
        return 1
    except Exception as exc:  # noqa: BLE001 (Redis down and the like: one line, status 1)
        _fail(exc, args.redis, f"{type(exc).__name__}: ")
        return 1


def _fail(exc: BaseException, url: str, prefix: str = "") -> None:
    """One line on stderr, with the Redis URL's credentials masked."""
    text = str(exc)
    try:
        from autumn_async._fleet._redis_spool import redact_url_in  # noqa: PLC0415
    except ImportError:  # no redis installed: nothing could have shown the URL
        pass
    else:
        text = redact_url_in(text, url)
    print(f"autumn fleet: {prefix}{text}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

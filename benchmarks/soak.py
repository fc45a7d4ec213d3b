"""Soak: async tasks, 8 sync threads and a usage batcher against the emulator with 20 % faults.

    python benchmarks/soak.py --duration 600            # or: make soak DURATION=600

For ``--duration`` seconds, async tasks (track, check, check with ``send_event``,
update), 8 threads sharing one blocking ``autumn_sync.Autumn`` (track), and a usage
batcher (``autumn.batcher()``; the sync client's too when it has one) call an emulator
running in a child process, which fails about 20 % of requests (429 with ``Retry-After:
0``, 500, 503, a connection dropped before or after applying the call) and delays some
(a few past the client's timeout, applied late). Every call's idempotency key is known,
so at the end the emulator's ledger is checked event by event:

- lost: a call reported delivered whose event is not in the ledger (must be 0);
- doubled: an event in the ledger more than once (must be 0);
- unknown: an event nobody sent (must be 0);
- calls that failed after all retries may or may not be in the ledger, at most once.

Open file descriptors and RSS of this process (the emulator is another one) are sampled
throughout; the run fails if they grow past a warm-up baseline, or if anything was logged
at ERROR. Exit status 0 means every check passed; the summary is printed either way
(``--json`` prints it as JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from autumn_async import (
    APIConnectionError,
    AsyncAutumn,
    AutumnDefaultError,
    AutumnError,
    BackoffStrategy,
    OutcomeUnknownError,
    RetryConfig,
    Timeout,
)

SECRET_KEY = "am_sk_test_soak"
FEATURE = "messages"
#: Probability that one request meets a failure fault: split evenly over FAILURE_KINDS.
FAULT_RATE = 0.20
FAILURE_KINDS: list[dict[str, Any]] = [
    {"kind": "status", "status": 429, "retry_after": 0},
    {"kind": "status", "status": 500},
    {"kind": "status", "status": 503, "retry_after": 0},
    {"kind": "drop_before"},
    {"kind": "drop_after"},
]
#: Client timeout per attempt, and the rare latency past it (applied late, then retried).
TIMEOUT_S = 1.0
SLOW_MS, SLOW_RATE = 1_300, 0.005
#: Keys the emulator remembers (ms): far longer than any retry or resend in the run, and
#: short enough that its idempotency store stays under its 10,000-key pruning threshold.
IDEMPOTENCY_TTL_MS = 60_000
RETRIES = RetryConfig(
    "backoff",
    BackoffStrategy(initial_interval=5, max_interval=200, exponent=2.0, max_elapsed_time=20_000),
    True,
    max_attempts=12,
)
SYNC_THREADS = 8
ASYNC_TASKS = 8


# --- bookkeeping ---------------------------------------------------------------------------


@dataclass
class Ledger:
    """What one worker sent: keys ``prefix0 .. prefix{n-1}``, and the few that did not land.

    Keys are derived from a counter so that a long run does not grow this process's
    memory with millions of strings (RSS must stay flat).
    """

    prefix: str
    issued: int = 0
    uncertain: set[str] = field(default_factory=set)  # failed after retries: 0 or 1 times
    refused: set[str] = field(default_factory=set)  # refused for good or dropped: 0 times
    errors: collections.Counter[str] = field(default_factory=collections.Counter)

    def next_key(self) -> str:
        key = f"{self.prefix}{self.issued}"
        self.issued += 1
        return key


@dataclass
class Counted:
    """Calls without a key of their own (check with send_event, update): bounds only."""

    done: int = 0  # reported applied (a result, or replayed)
    unsure: int = 0  # may have been applied (OutcomeUnknownError, maybe-applied failure)
    calls: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)


@dataclass
class Run:
    """Everything the workers share."""

    deadline: float
    interval: float  # seconds between one worker's calls
    lock: threading.Lock = field(default_factory=threading.Lock)
    ledgers: list[Ledger] = field(default_factory=list)
    checks: Counted = field(default_factory=Counted)
    updates: Counted = field(default_factory=Counted)
    reads: Counted = field(default_factory=Counted)
    parts: list[str] = field(default_factory=list)
    sync_batcher: list[dict[str, Any]] = field(default_factory=list)

    def ledger(self, prefix: str) -> Ledger:
        with self.lock:
            book = Ledger(prefix)
            self.ledgers.append(book)
            return book


def _settle(book: Ledger, key: str, exc: AutumnError) -> None:
    book.errors[type(exc).__name__] += 1
    if isinstance(exc, APIConnectionError) and not exc.maybe_applied:
        book.refused.add(key)
    elif isinstance(exc, AutumnDefaultError) and 400 <= exc.status_code < 500:
        book.refused.add(key)  # 4xx: refused, never applied (429 is retried before this)
    else:
        book.uncertain.add(key)


# --- workers -------------------------------------------------------------------------------


async def _async_worker(run: Run, autumn: AsyncAutumn, index: int) -> None:
    rng = random.Random(index)
    tracks = run.ledger(f"a{index}-")
    customer = f"soak_async_{index}"
    while time.monotonic() < run.deadline:
        roll = rng.random()
        try:
            if roll < 0.55:
                key = tracks.next_key()
                try:
                    await autumn.balances.track(
                        customer_id=customer, feature_id=FEATURE, value=1, idempotency_key=key
                    )
                except AutumnError as exc:
                    _settle(tracks, key, exc)
            elif roll < 0.70:
                await _counted(
                    run.checks,
                    autumn.balances.check(
                        customer_id="soak_check", feature_id=FEATURE, send_event=True
                    ),
                )
            elif roll < 0.85:
                await _counted(
                    run.updates,
                    autumn.balances.update(
                        customer_id="soak_update", feature_id=FEATURE, add_to_balance=1
                    ),
                )
            else:
                await _counted(
                    run.reads, autumn.balances.check(customer_id=customer, feature_id=FEATURE)
                )
        except Exception:
            logging.getLogger("soak").exception("unexpected exception in async worker")
        await asyncio.sleep(run.interval)


async def _counted(book: Counted, call: Any) -> None:
    book.calls += 1
    try:
        result = await call
    except OutcomeUnknownError:
        book.unsure += 1
        book.errors["OutcomeUnknownError"] += 1
    except AutumnError as exc:
        book.errors[type(exc).__name__] += 1
        if (isinstance(exc, APIConnectionError) and exc.maybe_applied) or (
            isinstance(exc, AutumnDefaultError) and exc.status_code >= 500
        ):
            book.unsure += 1
    else:
        allowed = getattr(result, "allowed", True)
        if allowed and not getattr(result, "fallback", False):
            book.done += 1


def _sync_worker(run: Run, autumn: Any, index: int) -> None:
    tracks = run.ledger(f"s{index}-")
    customer = f"soak_sync_{index}"
    while time.monotonic() < run.deadline:
        key = tracks.next_key()
        try:
            autumn.balances.track(
                customer_id=customer, feature_id=FEATURE, value=1, idempotency_key=key
            )
        except AutumnError as exc:
            _settle(tracks, key, exc)
        except Exception:
            logging.getLogger("soak").exception("unexpected exception in sync worker")
        time.sleep(run.interval)


def _batcher_callbacks(book: Ledger) -> dict[str, Callable[..., None]]:
    def on_error(event: Any, error: BaseException) -> None:
        # Outcome unknown: may have been applied (never a refusal); anything else is final.
        unknown = isinstance(error, OutcomeUnknownError)
        (book.uncertain if unknown else book.refused).add(event.idempotency_key)
        book.errors[type(error).__name__] += 1

    def on_drop(event: Any, reason: str) -> None:
        book.refused.add(event.idempotency_key)
        book.errors[f"dropped: {reason}"] += 1

    return {"on_error": on_error, "on_drop": on_drop}


async def _async_batcher(run: Run, autumn: AsyncAutumn, mode: str) -> dict[str, Any]:
    book = run.ledger(f"b{mode[0]}-")
    async with autumn.batcher(
        mode=mode, flush_interval=0.05, shutdown_timeout=60.0, **_batcher_callbacks(book)
    ) as batcher:
        while time.monotonic() < run.deadline:
            for _ in range(5):  # the batcher's point: many cheap calls
                await batcher.track(
                    customer_id=f"soak_batch_{mode}",
                    feature_id=FEATURE,
                    value=1,
                    idempotency_key=book.next_key(),
                )
            await asyncio.sleep(run.interval)
    return {"mode": mode, "stats": repr(batcher.stats)}


def _sync_batcher(run: Run, autumn: Any) -> None:
    book = run.ledger("bs-")
    with autumn.batcher(
        flush_interval=0.05, shutdown_timeout=60.0, **_batcher_callbacks(book)
    ) as b:
        while time.monotonic() < run.deadline:
            for _ in range(5):
                b.track(
                    customer_id="soak_batch_sync",
                    feature_id=FEATURE,
                    value=1,
                    idempotency_key=book.next_key(),
                )
            time.sleep(run.interval)
    run.sync_batcher.append({"mode": "sync track", "stats": repr(b.stats)})


# --- resources and logs ---------------------------------------------------------------------


def _fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def _rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


async def _sample(run: Run, samples: list[tuple[float, int | None, float | None]]) -> None:
    start = time.monotonic()
    every = max(1.0, (run.deadline - start) / 30)
    while time.monotonic() < run.deadline:
        samples.append((time.monotonic() - start, _fds(), _rss_mb()))
        await asyncio.sleep(every)


class _Attempts(logging.Handler):
    """Counts the SDK's per-attempt DEBUG lines by outcome (a status or an error type)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.outcomes: collections.Counter[str] = collections.Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith("%s attempt=") and record.args:
            self.outcomes[str(record.args[2])] += 1  # type: ignore[index]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# --- the emulator in a child process --------------------------------------------------------


def serve_emulator(port: int, ttl_ms: int) -> None:
    """Child process: an emulator with a finite idempotency TTL, until SIGTERM."""
    from autumn_emulator import Emulator

    async def serve() -> None:
        emu = Emulator(secret_key=SECRET_KEY, port=port)
        emu.state.idempotency.ttl_ms = ttl_ms
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with emu:
            print(emu.url, flush=True)
            await stop.wait()

    asyncio.run(serve())


@contextlib.contextmanager
def _emulator_process(ttl_ms: int) -> Any:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-emulator", "--idempotency-ttl-ms", str(ttl_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the emulator did not start (said {url!r})")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _admin(session: aiohttp.ClientSession, url: str, method: str, body: Any = None) -> Any:
    async with session.request(method, url, json=body) as resp:
        resp.raise_for_status()
        return await resp.json()


async def _seed(session: aiohttp.ClientSession, base: str, seed: int) -> None:
    admin = f"{base}/_emulator"
    await _admin(session, f"{admin}/features", "POST", {"id": FEATURE})
    customers = [f"soak_async_{i}" for i in range(ASYNC_TASKS)]
    customers += [f"soak_sync_{i}" for i in range(SYNC_THREADS)]
    customers += ["soak_check", "soak_update", "soak_batch_track", "soak_batch_batch_track"]
    customers += ["soak_batch_sync"]
    for customer in customers:
        await _admin(session, f"{admin}/customers", "POST", {"id": customer})
        grant = {"customer_id": customer, "feature_id": FEATURE, "included_grant": 10**12}
        await _admin(session, f"{admin}/balances", "POST", grant)
    # k independent faults of probability p fail a request with 1 - (1 - p)**k = FAULT_RATE.
    p = 1 - (1 - FAULT_RATE) ** (1 / len(FAILURE_KINDS))
    for offset, fault in enumerate(FAILURE_KINDS):
        body = {"route": "*", "probability": p, "seed": seed + offset, **fault}
        await _admin(session, f"{admin}/faults", "POST", body)
    slow = {"route": "*", "kind": "latency", "latency_ms": SLOW_MS, "probability": SLOW_RATE}
    await _admin(session, f"{admin}/faults", "POST", {**slow, "seed": seed + 99})


# --- the run ---------------------------------------------------------------------------------


async def soak(args: argparse.Namespace, base: str) -> dict[str, Any]:
    workers = ASYNC_TASKS + SYNC_THREADS + 3
    run = Run(deadline=0.0, interval=workers / args.rate)
    async with aiohttp.ClientSession() as session:
        await _seed(session, base, args.seed)
        start_balance = await _admin(
            session, f"{base}/_emulator/balances?customer_id=soak_update", "GET"
        )
        handler = _Collect()
        logging.getLogger().addHandler(handler)
        attempts = _Attempts()
        sdk_logger = logging.getLogger("autumn_balances")
        sdk_logger.addHandler(attempts)
        sdk_logger.setLevel(logging.DEBUG)
        samples: list[tuple[float, int | None, float | None]] = []
        started = time.monotonic()
        run.deadline = started + args.duration
        threads: list[threading.Thread] = []
        sync_client = None
        try:
            async with AsyncAutumn(
                secret_key=SECRET_KEY,
                server_url=base,
                retry_config=RETRIES,
                timeout=Timeout(total=TIMEOUT_S, connect=TIMEOUT_S),
            ) as autumn:
                await autumn.warm_up()
                try:
                    import autumn_sync

                    sync_client = autumn_sync.Autumn(
                        secret_key=SECRET_KEY,
                        server_url=base,
                        retry_config=RETRIES,
                        timeout=Timeout(total=TIMEOUT_S, connect=TIMEOUT_S),
                    )
                except (ImportError, AttributeError) as exc:
                    run.parts.append(f"sync client: not available ({exc})")
                if sync_client is not None:
                    for i in range(SYNC_THREADS):
                        thread = threading.Thread(
                            target=_sync_worker, args=(run, sync_client, i), daemon=True
                        )
                        threads.append(thread)
                    run.parts.append(f"sync client: {SYNC_THREADS} threads sharing one Autumn")
                    if hasattr(sync_client, "batcher"):
                        threads.append(
                            threading.Thread(
                                target=_sync_batcher, args=(run, sync_client), daemon=True
                            )
                        )
                        run.parts.append("sync batcher: Autumn.batcher() from a thread")
                    else:
                        run.parts.append("sync batcher: not available (no Autumn.batcher)")
                for thread in threads:
                    thread.start()
                tasks = [
                    asyncio.create_task(_async_worker(run, autumn, i)) for i in range(ASYNC_TASKS)
                ]
                run.parts.append(f"async: {ASYNC_TASKS} tasks (track, check, check+send, update)")
                batchers: list[asyncio.Task[dict[str, Any]]] = []
                if hasattr(autumn, "batcher"):
                    for mode in ("track", "batch_track"):
                        batchers.append(asyncio.create_task(_async_batcher(run, autumn, mode)))
                    run.parts.append("async batchers: mode=track and mode=batch_track")
                else:
                    run.parts.append("async batcher: not available")
                sampler = asyncio.create_task(_sample(run, samples))
                await asyncio.gather(*tasks, sampler)
                batcher_reports = await asyncio.gather(*batchers)
                for thread in threads:
                    await asyncio.to_thread(thread.join)
            if sync_client is not None:
                sync_client.close()
        finally:
            logging.getLogger().removeHandler(handler)
            sdk_logger.removeHandler(attempts)
            sdk_logger.setLevel(logging.NOTSET)
        after_close = (_fds(), _rss_mb())
        elapsed = time.monotonic() - started
        events = (await _admin(session, f"{base}/_emulator/ledger", "GET"))["events"]
        stats = await _admin(session, f"{base}/_emulator/stats", "GET")
        end_balance = await _admin(
            session, f"{base}/_emulator/balances?customer_id=soak_update", "GET"
        )
    return _report(
        args=args,
        run=run,
        events=events,
        stats=stats,
        samples=samples,
        records=handler.records,
        after_close=after_close,
        attempts=attempts.outcomes,
        elapsed=elapsed,
        batcher_reports=[*batcher_reports, *run.sync_batcher],
        update_start=_remaining(start_balance),
        update_end=_remaining(end_balance),
    )


def _remaining(body: dict[str, Any]) -> float:
    return float(body["balances"][FEATURE]["remaining"])


def _report(
    *,
    args: argparse.Namespace,
    run: Run,
    events: list[dict[str, Any]],
    stats: dict[str, Any],
    samples: list[tuple[float, int | None, float | None]],
    records: list[logging.LogRecord],
    attempts: collections.Counter[str],
    after_close: tuple[int | None, float | None],
    elapsed: float,
    batcher_reports: list[dict[str, Any]],
    update_start: float,
    update_end: float,
) -> dict[str, Any]:
    counts = collections.Counter(e.get("idempotency_key") for e in events)
    check_events = sum(1 for e in events if e["customer_id"] == "soak_check")
    keyed_expected = keyed_uncertain = lost = doubled = 0
    uncertain_landed = 0
    errors: collections.Counter[str] = collections.Counter()
    issued_keys = 0
    for book in run.ledgers:
        errors.update(book.errors)
        issued_keys += book.issued
        for n in range(book.issued):
            key = f"{book.prefix}{n}"
            seen = counts.pop(key, 0)
            if seen > 1:
                doubled += seen - 1
            if key in book.refused:
                if seen:
                    doubled += seen  # refused for good, yet applied
            elif key in book.uncertain:
                keyed_uncertain += 1
                uncertain_landed += min(seen, 1)
            else:
                keyed_expected += 1
                if seen == 0:
                    lost += 1
    unknown = sum(n for key, n in counts.items() if key is not None)
    # Calls without their own key: the ledger (checks) or the balance (updates) must lie
    # between what was reported applied and that plus what may have been applied.
    checks_ok = run.checks.done <= check_events <= run.checks.done + run.checks.unsure
    added = round(update_end - update_start)
    updates_ok = run.updates.done <= added <= run.updates.done + run.updates.unsure
    for book in (run.checks, run.updates, run.reads):
        errors.update(book.errors)

    fds = [s[1] for s in samples if s[1] is not None]
    rss = [s[2] for s in samples if s[2] is not None]
    warm = max(1, len(samples) // 5)  # skip the first fifth: imports, pools, caches
    fds_base = max(fds[:warm] or fds[:1]) if fds else None
    rss_base = max(rss[:warm] or rss[:1]) if rss else None
    fds_flat = not fds or fds[-1] <= fds_base + args.fd_slack  # type: ignore[operator]
    rss_flat = not rss or rss[-1] <= rss_base + args.rss_slack_mb  # type: ignore[operator]
    error_logs = [f"{r.name}: {r.getMessage()}" for r in records if r.levelno >= logging.ERROR]
    warnings = collections.Counter(
        f"{r.name}: {r.getMessage()[:80]}" for r in records if r.levelno == logging.WARNING
    )
    calls = issued_keys + run.checks.calls + run.updates.calls + run.reads.calls
    # A 409 is not a fault but its consequence: a retry finding its first attempt applied.
    faults_met = sum(n for o, n in attempts.items() if not o.startswith("2") and o != "409")
    requests = int(stats.get("total", 0))
    summary = {
        "duration_s": round(elapsed, 1),
        "parts": run.parts,
        "fault_rate": FAULT_RATE,
        "calls": calls,
        "events_tracked_with_keys": issued_keys,
        "requests_received_by_emulator": requests,
        "requests_per_route": stats.get("requests", {}),
        "attempts_by_outcome": dict(attempts.most_common()),
        "faults_met": faults_met,
        "ledger_events": len(events),
        "events_lost": lost,
        "events_counted_twice": doubled,
        "events_unknown": unknown,
        "keyed_failed_after_retries": keyed_uncertain,
        "keyed_failed_that_landed_once": uncertain_landed,
        "check_send_event": {
            "reported_applied": run.checks.done,
            "outcome_unknown_or_maybe": run.checks.unsure,
            "ledger": check_events,
            "consistent": checks_ok,
        },
        "update_add_to_balance": {
            "reported_applied": run.updates.done,
            "maybe_applied": run.updates.unsure,
            "balance_added": added,
            "consistent": updates_ok,
        },
        "errors_after_retries": dict(errors),
        "batchers": batcher_reports,
        "fds": {
            "baseline": fds_base,
            "last": fds[-1] if fds else None,
            "max": max(fds or [0]),
            "after_close": after_close[0],
        },
        "rss_mb": {
            "baseline": round(rss_base, 1) if rss_base else None,
            "last": round(rss[-1], 1) if rss else None,
            "max": round(max(rss or [0]), 1),
            "after_close": round(after_close[1], 1) if after_close[1] else None,
        },
        "error_logs": error_logs[:20],
        "warning_logs": dict(warnings.most_common(10)),
    }
    failures = []
    if lost:
        failures.append(f"{lost} events lost")
    if doubled:
        failures.append(f"{doubled} events counted twice")
    if unknown:
        failures.append(f"{unknown} events nobody sent")
    if not checks_ok:
        failures.append("check+send_event ledger out of bounds")
    if not updates_ok:
        failures.append("update balance out of bounds")
    if not fds_flat:
        failures.append(f"open fds grew: {fds_base} -> {fds[-1]}")
    if not rss_flat:
        failures.append(f"RSS grew: {rss_base:.1f} -> {rss[-1]:.1f} MB")
    if error_logs:
        failures.append(f"{len(error_logs)} records logged at ERROR")
    summary["failures"] = failures
    summary["ok"] = not failures
    return summary


def _print(summary: dict[str, Any]) -> None:
    print(f"soak: {summary['duration_s']} s, fault rate {summary['fault_rate']:.0%}")
    for part in summary["parts"]:
        print(f"  ran   {part}")
    print(
        f"  calls {summary['calls']:,} ({summary['events_tracked_with_keys']:,} keyed events); "
        f"emulator received {summary['requests_received_by_emulator']:,} requests"
    )
    print(f"  faults met {summary['faults_met']:,}: attempts {summary['attempts_by_outcome']}")
    print(
        f"  ledger {summary['ledger_events']:,} events: lost {summary['events_lost']}, "
        f"counted twice {summary['events_counted_twice']}, unknown {summary['events_unknown']}"
    )
    print(
        f"  failed after retries: {summary['keyed_failed_after_retries']} keyed "
        f"({summary['keyed_failed_that_landed_once']} landed once); errors "
        f"{summary['errors_after_retries']}"
    )
    print(f"  check+send_event {summary['check_send_event']}")
    print(f"  update           {summary['update_add_to_balance']}")
    for report in summary["batchers"]:
        print(f"  batcher {report['mode']}: {report['stats']}")
    print(f"  fds    {summary['fds']}")
    print(f"  rss_mb {summary['rss_mb']}")
    print(f"  logs   ERROR {len(summary['error_logs'])}, WARNING {summary['warning_logs']}")
    for line in summary["error_logs"]:
        print(f"    {line}")
    print("  OK" if summary["ok"] else f"  FAILED: {'; '.join(summary['failures'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (60)")
    parser.add_argument(
        "--rate", type=float, default=150.0, help="target calls per second, all workers (150)"
    )
    parser.add_argument("--seed", type=int, default=1, help="fault seed (1)")
    parser.add_argument("--fd-slack", type=int, default=24, help="fd growth allowed (24)")
    parser.add_argument(
        "--rss-slack-mb", type=float, default=24.0, help="RSS growth allowed, MB (24)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--serve-emulator", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--idempotency-ttl-ms",
        type=int,
        default=IDEMPOTENCY_TTL_MS,
        help="how long the emulator remembers keys; 1 shows the checks catch doubles",
    )
    args = parser.parse_args(argv)
    if args.serve_emulator:
        serve_emulator(args.port, args.idempotency_ttl_ms)
        return 0
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)  # the SDK's DEBUG lines are counted, not printed
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(console)
    logging.getLogger().setLevel(logging.WARNING)
    with _emulator_process(args.idempotency_ttl_ms) as base:
        summary = asyncio.run(soak(args, base))
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        _print(summary)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

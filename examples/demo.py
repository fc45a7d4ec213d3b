"""``make demo``: the whole story of the SDK against the embedded emulator (loopback only).

Starts a local Autumn emulator on a free port and defines three features, creates the
customer through the SDK (``customers.get_or_create``, as a real integration must: the
emulator runs without auto-creation, like Autumn at 2.1), then grants, checks and
tracks with the blocking client, bursts 200 tracks through the async
client (once on a healthy server, once with 30 % of answers lost after the change was
applied), prints the final balances and runs both quickstarts against the same emulator.
Every step checks its own result; the script exits 1 with a message if one is wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import importlib
import io
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from autumn_async import AsyncAutumn, BackoffStrategy, RetryConfig
from autumn_emulator import EmulatorThread
from autumn_sync import Autumn

CUSTOMER = "acme"
TRACK_ROUTE = "/v1/balances.track"
BURST = 200
#: Quick retries for the demo: a few milliseconds apart, up to 20 attempts.
DEMO_RETRIES = RetryConfig("backoff", BackoffStrategy(2, 20, 2.0, 30_000), True, max_attempts=20)


class DemoError(Exception):
    """A step did not behave as documented."""


def expect(condition: bool, what: str) -> None:
    """Stop the demo when a documented behaviour does not hold."""
    if not condition:
        raise DemoError(what)


def step(number: int, title: str) -> None:
    """Print a step's heading."""
    print(f"\n{number}. {title}")


def show(label: str, value: object) -> None:
    """Print one result line, aligned."""
    print(f"   {label:<34} {value}")


def num(value: float) -> str:
    """A quantity with thousands separators and no needless ``.0``."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


def when(ms: float | None) -> str:
    """A Unix-millisecond timestamp as a readable UTC time."""
    if ms is None:
        return "never"
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def seed(emu: EmulatorThread) -> None:
    """Define the features the story uses (features are set up in Autumn's dashboard)."""
    emu.add_feature("messages", name="Messages")
    emu.add_feature("ai_tokens", name="AI tokens", event_names=["chat_completion"])
    emu.add_feature("sso", name="Single sign-on", type="boolean")
    show("features", "messages (metered), ai_tokens (event chat_completion), sso (boolean)")


def story(autumn: Autumn, emu: EmulatorThread) -> None:
    """Create the customer, grant, check, track, track by event name, check a flag, be
    denied with a preview."""
    balances = autumn.balances

    step(0, "Create the customer: customers.get_or_create, before any balance call")
    customer = autumn.customers.get_or_create(
        customer_id=CUSTOMER, name="Acme Inc.", email="billing@acme.example"
    )
    again = autumn.customers.get_or_create(customer_id=CUSTOMER)
    expect(again.created_at == customer.created_at, "get_or_create returns the same customer")
    show("customer", f"{customer.id} ({customer.name}, {customer.email})")

    step(1, "Create balances: 1,000 messages and 50,000 AI tokens a month, plus SSO")
    balances.create(customer_id=CUSTOMER, feature_id="messages", included=1000, reset="month")
    balances.create(customer_id=CUSTOMER, feature_id="ai_tokens", included=50_000, reset="month")
    balances.create(customer_id=CUSTOMER, feature_id="sso")
    created = emu.balances(CUSTOMER)["messages"]
    expect(created["granted"] == 1000, "create grants the included amount")
    show("messages granted", num(created["granted"]))
    show("messages next reset", when(created["next_reset_at"]))

    step(2, "Check: may acme send a message?")
    check = balances.check(customer_id=CUSTOMER, feature_id="messages")
    expect(check.allowed and check.balance is not None, "a fresh balance allows 1 message")
    assert check.balance is not None
    show("allowed", check.allowed)
    show("remaining", num(check.balance.remaining))

    step(3, "Track 3 messages")
    track = balances.track(customer_id=CUSTOMER, feature_id="messages", value=3)
    expect(track.balance is not None and track.balance.remaining == 997, "track deducts 3")
    assert track.balance is not None
    show("remaining", num(track.balance.remaining))
    read_back = autumn.customers.get(customer_id=CUSTOMER).balances["messages"]
    expect(read_back.remaining == 997, "customers.get reflects the balance")
    show("customers.get sees remaining", num(read_back.remaining))

    step(4, "Track by event name: chat_completion uses 1,200 AI tokens")
    by_event = balances.track(customer_id=CUSTOMER, event_name="chat_completion", value=1200)
    tokens = by_event.balance
    expect(tokens is not None and tokens.remaining == 48_800, "the event deducts ai_tokens")
    assert tokens is not None
    show("feature deducted", tokens.feature_id)
    show("ai_tokens remaining", num(tokens.remaining))

    step(5, "Check a boolean feature: SSO")
    sso = balances.check(customer_id=CUSTOMER, feature_id="sso")
    expect(sso.allowed and sso.flag is not None, "a granted boolean feature is allowed")
    show("allowed", sso.allowed)
    show("flag", sso.flag.feature_id if sso.flag else None)

    step(6, "A denied check with preview: 5,000 messages at once")
    denied = balances.check(
        customer_id=CUSTOMER,
        feature_id="messages",
        required_balance=5000,
        send_event=True,
        with_preview=True,
    )
    expect(not denied.allowed and denied.preview is not None, "5,000 is denied with a preview")
    assert denied.preview is not None
    left = emu.balances(CUSTOMER)["messages"]["remaining"]
    expect(left == 997, "a denied check-and-deduct deducts nothing")
    show("allowed", denied.allowed)
    show("preview", f"{denied.preview.title}: {denied.preview.message}")
    show("remaining (nothing deducted)", num(left))


async def burst(emu: EmulatorThread, *, faults: bool) -> None:
    """Send BURST tracks at once through the async client and count them in the ledger."""
    before = len(emu.ledger())
    requests_before = emu.stats().get(TRACK_ROUTE, 0)
    if faults:
        emu.set_fault(TRACK_ROUTE, "drop_after", probability=0.3, seed=1)
        emu.set_fault(TRACK_ROUTE, "status", status=429, retry_after=0, probability=0.1, seed=2)
    started = time.perf_counter()
    # A retry that meets 409 after a lost answer is trusted one per-attempt timeout after the
    # lost attempt started (the retry policy); on loopback a short timeout keeps that quick.
    async with AsyncAutumn(
        server_url=emu.url, secret_key=emu.secret_key, retry_config=DEMO_RETRIES, timeout=1.0
    ) as autumn:
        results = await asyncio.gather(
            *(
                autumn.balances.track(customer_id=CUSTOMER, feature_id="messages")
                for _ in range(BURST)
            )
        )
    elapsed = time.perf_counter() - started
    emu.clear_faults()
    recorded = len(emu.ledger()) - before
    requests = emu.stats().get(TRACK_ROUTE, 0) - requests_before
    expect(recorded == BURST, f"{BURST} tracks record exactly {BURST} events, got {recorded}")
    show("tracks sent", f"{BURST} in {elapsed * 1000:.0f} ms")
    show("HTTP requests (with retries)", requests)
    if faults:
        replayed = sum(result.replayed for result in results)
        show("answers lost, replayed safely", replayed)
    show("events in the ledger", f"{recorded} (exactly once each)")


def final_balances(emu: EmulatorThread) -> None:
    """Print where acme stands."""
    balances = emu.balances(CUSTOMER)
    messages, tokens = balances["messages"], balances["ai_tokens"]
    expected = 1000 - 3 - 2 * BURST
    expect(messages["remaining"] == expected, f"messages end at {expected}")
    show("messages", _line(messages))
    show("ai_tokens", _line(tokens))
    show("usage events recorded", len(emu.ledger()))


def _line(balance: dict[str, Any]) -> str:
    return (
        f"{num(balance['remaining'])} of {num(balance['granted'])} left "
        f"(used {num(balance['usage'])}; resets {when(balance['next_reset_at'])})"
    )


@contextlib.contextmanager
def indented() -> Iterator[None]:
    """Print what the block prints, indented under the current step."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        for line in buffer.getvalue().splitlines():
            print(f"     {line}")


def quickstarts(emu: EmulatorThread) -> None:
    """Run examples/quickstart.py and examples/quickstart_async.py against the emulator."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    emu.add_feature("messages", name="Messages")
    print("   quickstart.py (autumn_sync.Autumn):")
    with indented():
        importlib.import_module("quickstart").main(emu.url, emu.secret_key)
    print("   quickstart_async.py (autumn_async.AsyncAutumn):")
    with indented():
        asyncio.run(importlib.import_module("quickstart_async").main(emu.url, emu.secret_key))
    left = emu.balances("user_123")["messages"]["remaining"]
    expect(left == 200 - 5 - 5 - 10, "the quickstarts deduct 20 of their 200 messages")


def main() -> int:
    """Run the story; return the exit status."""
    print("Autumn balances SDK demo (everything runs against a local emulator)")
    try:
        with EmulatorThread() as emu:
            show("emulator", f"{emu.url} (key {emu.secret_key})")
            seed(emu)
            with Autumn(server_url=emu.url, secret_key=emu.secret_key) as autumn:
                story(autumn, emu)
            step(7, f"A burst of {BURST} tracks at once (asyncio.gather on AsyncAutumn)")
            asyncio.run(burst(emu, faults=False))
            step(8, f"{BURST} more, while 30 % of answers are lost and 10 % are rate limited")
            asyncio.run(burst(emu, faults=True))
            step(9, "Final balances")
            final_balances(emu)
            step(10, "The quickstarts, against the same emulator")
            quickstarts(emu)
    except DemoError as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        return 1
    print("\nDemo complete: every call behaved as documented.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

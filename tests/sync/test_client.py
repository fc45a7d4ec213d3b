"""The blocking client against a local emulator: the reference's examples, threads, loops."""

from __future__ import annotations

import asyncio
import threading
import traceback
from collections.abc import Iterator

import pytest

import autumn_async
import autumn_sync
from autumn_emulator import EmulatorThread
from autumn_sync import Autumn, NotFoundError, UsageError

SECRET = "am_sk_test_sync"


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(secret_key=SECRET) as emulator:
        emulator.add_feature("<id>", type="boolean")
        emulator.add_customer("<id>")
        emulator.add_feature("messages")
        emulator.add_customer("c1")
        yield emulator


@pytest.fixture
def autumn(emu: EmulatorThread) -> Iterator[Autumn]:
    with Autumn(secret_key=SECRET, server_url=emu.url) as client:
        yield client


def test_reference_create_example(emu: EmulatorThread, capsys: pytest.CaptureFixture[str]) -> None:
    """The API reference's create example runs as written."""
    with Autumn(
        x_api_version="2.1",
        secret_key=SECRET,
        server_url=emu.url,
    ) as autumn:
        res = autumn.balances.create(feature_id="<id>", customer_id="<id>")

        # Handle response
        print(res)
    assert "success=True" in capsys.readouterr().out


def test_reference_update_example(emu: EmulatorThread, capsys: pytest.CaptureFixture[str]) -> None:
    """The API reference's update example runs as written."""
    with Autumn(
        x_api_version="2.1",
        secret_key=SECRET,
        server_url=emu.url,
    ) as autumn:
        res = autumn.balances.update(customer_id="<id>", feature_id="<id>")

        # Handle response
        print(res)
    assert "success=True" in capsys.readouterr().out


def test_reference_check_example(emu: EmulatorThread, capsys: pytest.CaptureFixture[str]) -> None:
    """The API reference's check example runs as written."""
    emu.add_balance(customer_id="<id>", feature_id="<id>")
    with Autumn(
        x_api_version="2.1",
        secret_key=SECRET,
        server_url=emu.url,
    ) as autumn:
        res = autumn.balances.check(customer_id="<id>", feature_id="<id>")

        # Handle response
        print(res)
    assert "allowed=True" in capsys.readouterr().out


def test_reference_track_example(emu: EmulatorThread) -> None:
    """The reference's track example names neither feature_id nor event_name.

    The server refuses that body (400 invalid_inputs); the SDK says so before sending,
    naming the field.
    """
    with (
        Autumn(
            x_api_version="2.1",
            secret_key=SECRET,
            server_url=emu.url,
        ) as autumn,
        pytest.raises(UsageError) as info,
    ):
        autumn.balances.track(customer_id="<id>")
    assert info.value.field == "feature_id"
    assert emu.stats().get("/v1/balances.track", 0) == 0


def test_sixteen_threads_share_one_client(autumn: Autumn, emu: EmulatorThread) -> None:
    """16 threads x 100 tracks on one client: every call succeeds and every unit lands."""
    autumn.balances.create(customer_id="c1", feature_id="messages", included=10_000)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(100):
                res = autumn.balances.track(customer_id="c1", feature_id="messages")
                assert res.value == 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(emu.ledger()) == 1600
    res = autumn.balances.check(customer_id="c1", feature_id="messages")
    assert res.balance is not None
    assert res.balance.remaining == 10_000 - 1600


def test_call_from_inside_a_running_loop(autumn: Autumn) -> None:
    """A blocking call made from a coroutine works; only the caller blocks."""
    autumn.balances.create(customer_id="c1", feature_id="messages", included=5)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def main() -> bool:
        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        res = autumn.balances.check(customer_id="c1", feature_id="messages")
        task.cancel()
        return res.allowed

    assert asyncio.run(main()) is True
    assert ticks >= 1


def test_errors_are_the_async_classes_with_the_callers_frame(autumn: Autumn) -> None:
    """A sync call raises the same class as the async one, with this frame in the traceback."""
    with pytest.raises(NotFoundError) as info:
        autumn.balances.check(customer_id="nobody", feature_id="messages")
    assert type(info.value) is autumn_async.NotFoundError
    assert info.value.code == "customer_not_found"
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "test_errors_are_the_async_classes_with_the_callers_frame" in frames


def test_close_is_idempotent_and_final(emu: EmulatorThread) -> None:
    """close() twice is fine; a call after it raises UsageError."""
    autumn = Autumn(secret_key=SECRET, server_url=emu.url)
    autumn.balances.check(customer_id="c1", feature_id="messages")
    autumn.close()
    autumn.close()
    assert autumn.closed
    with pytest.raises(UsageError, match="closed"):
        autumn.balances.check(customer_id="c1", feature_id="messages")


def test_reexports_are_the_same_objects() -> None:
    """Models, errors and retry settings of autumn_sync are autumn_async's own objects."""
    for name in autumn_sync.__all__:
        if name in ("Autumn", "Balances", "Customers", "Entities", "UsageBatcher"):
            continue
        assert getattr(autumn_sync, name) is getattr(autumn_async, name), name


def test_repr_hides_the_key(emu: EmulatorThread) -> None:
    """The sync client's repr masks the secret key."""
    with Autumn(secret_key=SECRET, server_url=emu.url) as autumn:
        assert SECRET not in repr(autumn)
        assert repr(autumn).startswith("Autumn(")

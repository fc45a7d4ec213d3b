"""Running the emulator in-process (:class:`Emulator`) or on a thread (:class:`EmulatorThread`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from ._app import EmulatorContext, create_app
from ._faults import parse_fault
from ._state import EmulatorState

__all__ = ["DEFAULT_SECRET_KEY", "Emulator", "EmulatorThread"]

#: The key an emulator accepts unless told otherwise (a sandbox key).
DEFAULT_SECRET_KEY = "am_sk_test"  # noqa: S105 - a fixed test key, not a credential

_T = TypeVar("_T")


class Emulator:
    """A stateful local Autumn server, running on the current event loop.

    Use it as ``async with Emulator() as emu:`` and point a client at ``emu.url`` with
    ``emu.secret_key``. ``port=0`` (the default) picks a free port. ``clock`` returns
    Unix milliseconds and drives resets, expiry and idempotency TTLs.
    """

    def __init__(
        self,
        *,
        secret_key: str = DEFAULT_SECRET_KEY,
        extra_secret_keys: Sequence[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        auto_create_customers: bool = False,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.secret_key = secret_key
        self.host = host
        self.port = port
        self.state = EmulatorState(clock, auto_create_customers=auto_create_customers)
        self.context = EmulatorContext(self.state, {secret_key, *extra_secret_keys})
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server, such as ``http://127.0.0.1:8787``."""
        if self._runner is None:
            raise RuntimeError("the emulator is not running")
        # An IPv6 literal needs brackets in a URL: "http://::1:8787" names no server.
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Start serving (idempotent); the real port is known afterwards."""
        if self._runner is not None:
            return
        runner = web.AppRunner(
            create_app(self.context), access_log=None, handle_signals=False, shutdown_timeout=1
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def aclose(self) -> None:
        """Stop serving and close every connection (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def add_feature(
        self,
        id: str,
        *,
        type: str = "metered",
        name: str | None = None,
        event_names: Iterable[str] = (),
        credit_schema: Mapping[str, float] | None = None,
        consumable: bool | None = None,
    ) -> dict[str, Any]:
        """Define a feature; ``credit_schema`` maps metered feature ids to credit costs.

        ``consumable=False`` makes a metered feature continuous-use (seats), which is
        what entities are created for; metered features are consumable by default.
        """
        body = {
            "id": id,
            "type": type,
            "consumable": consumable,
            "name": name,
            "event_names": list(event_names),
            "credit_schema": [
                {"metered_feature_id": key, "credit_cost": cost}
                for key, cost in (credit_schema or {}).items()
            ],
        }
        return self.state.add_feature(body).to_json()

    async def add_customer(
        self,
        id: str,
        *,
        name: str | None = None,
        entities: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Get or create a customer and register its entities."""
        customer = self.state.add_customer(id, name, entities)
        return self.state.customer_json(customer, "sandbox")

    async def add_balance(self, **body: Any) -> dict[str, Any] | None:
        """Seed a grant directly (``POST /_emulator/balances`` fields) and return the balance."""
        row = self.state.seed_balance(body)
        return self.state.balance(row.customer_id, row.entity_id, row.feature_id)

    def balances(self, customer_id: str, entity_id: str | None = None) -> dict[str, Any]:
        """The customer's (or entity's) balances by feature id, as the API renders them."""
        return self.state.balances(customer_id, entity_id)

    def ledger(self) -> list[dict[str, Any]]:
        """Every usage event applied so far, in order (one per feature deducted)."""
        return [dict(event) for event in self.state.ledger]

    def dropped(self) -> list[dict[str, Any]]:
        """Queued events (``batch_track``, async ``track``) the worker dropped, in order.

        The real server drops them without telling anyone (an unknown customer or
        entity, a duplicate key, a refused deduction); each entry has the event's
        fields plus the ``code`` and ``message`` of the failure.
        """
        return [dict(event) for event in self.state.dropped]

    def stats(self) -> dict[str, int]:
        """Requests received per ``/v1`` route (faulted ones included)."""
        return dict(self.context.stats)

    def set_fault(self, route: str, kind: str = "status", **options: Any) -> None:
        """Add a fault (``POST /_emulator/faults`` fields: probability, status, ...)."""
        self.context.faults.add(parse_fault({"route": route, "kind": kind, **options}))

    def clear_faults(self, route: str | None = None) -> None:
        """Remove every fault, or only those of ``route``."""
        self.context.faults.clear(route)

    def advance_time(self, ms: int) -> None:
        """Move the emulator's clock forward by ``ms`` milliseconds."""
        self.state.advance(ms)

    def reset(self) -> None:
        """Forget all state, faults and counters."""
        self.context.reset()


class EmulatorThread:
    """An :class:`Emulator` served by its own event loop on a daemon thread, for sync code.

    ``with EmulatorThread() as emu:`` starts it; the helpers are the same, but blocking.
    """

    def __init__(self, **options: Any) -> None:
        self.emulator = Emulator(**options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return self.emulator.url

    @property
    def secret_key(self) -> str:
        """The secret key the server accepts."""
        return self.emulator.secret_key

    @property
    def state(self) -> EmulatorState:
        """The emulator's state (touch it only through the helpers while it runs)."""
        return self.emulator.state

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("the emulator thread is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _call(self, func: Callable[[], _T]) -> _T:
        async def call() -> _T:
            return func()

        return self._run(call())

    def start(self) -> None:
        """Start the thread and the server; returns once the server is listening."""
        if self._thread is not None:
            return
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        thread = threading.Thread(
            target=self._serve, args=(loop, ready), name="autumn-emulator", daemon=True
        )
        self._loop, self._thread = loop, thread
        thread.start()
        ready.wait()
        self._run(self.emulator.start())

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    def close(self) -> None:
        """Stop the server, the loop and the thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self._run(self.emulator.aclose())
        finally:
            self._loop = self._thread = None
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def __enter__(self) -> EmulatorThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def add_feature(self, id: str, **options: Any) -> dict[str, Any]:
        """Define a feature (see :meth:`Emulator.add_feature`)."""
        return self._run(self.emulator.add_feature(id, **options))

    def add_customer(self, id: str, **options: Any) -> dict[str, Any]:
        """Get or create a customer (see :meth:`Emulator.add_customer`)."""
        return self._run(self.emulator.add_customer(id, **options))

    def add_balance(self, **body: Any) -> dict[str, Any] | None:
        """Seed a grant directly (see :meth:`Emulator.add_balance`)."""
        return self._run(self.emulator.add_balance(**body))

    def balances(self, customer_id: str, entity_id: str | None = None) -> dict[str, Any]:
        """The customer's balances by feature id."""
        return self._call(lambda: self.emulator.balances(customer_id, entity_id))

    def ledger(self) -> list[dict[str, Any]]:
        """Every usage event applied so far, in order."""
        return self._call(self.emulator.ledger)

    def dropped(self) -> list[dict[str, Any]]:
        """Queued events the worker dropped (see :meth:`Emulator.dropped`)."""
        return self._call(self.emulator.dropped)

    def stats(self) -> dict[str, int]:
        """Requests received per ``/v1`` route."""
        return self._call(self.emulator.stats)

    def set_fault(self, route: str, kind: str = "status", **options: Any) -> None:
        """Add a fault (see :meth:`Emulator.set_fault`)."""
        self._call(lambda: self.emulator.set_fault(route, kind, **options))

    def clear_faults(self, route: str | None = None) -> None:
        """Remove faults."""
        self._call(lambda: self.emulator.clear_faults(route))

    def advance_time(self, ms: int) -> None:
        """Move the emulator's clock forward."""
        self._call(lambda: self.emulator.advance_time(ms))

    def reset(self) -> None:
        """Forget all state, faults and counters."""
        self._call(self.emulator.reset)

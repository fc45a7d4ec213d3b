"""The emulator's state and operations, with no HTTP: call these to unit-test the rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._grants import create_balance, update_balance
from ._params import (
    parse_batch,
    parse_check,
    parse_create,
    parse_track,
    parse_update,
)
from ._store import Store
from ._tracking import StagedTrack, batch_track, begin_track, finish_track, track
from ._usage import check, check_fallback
from ._validation import DEFAULT_VERSION, Checker

__all__ = ["EmulatorState"]

#: Check and track stopped auto-creating customers at this version (spec §8).
_NO_AUTO_CREATE_SINCE = (2, 1, 0)
#: From this version an omitted ``async`` means a queued track (``V2_4_TrackParamsChange``).
_ASYNC_TRACK_SINCE = (2, 5, 0)


class EmulatorState(Store):
    """Everything the emulator knows, and the five balance operations on raw JSON bodies.

    ``clock`` returns Unix milliseconds (default: the wall clock). Bodies are validated as
    the server validates them; failures raise :class:`ApiError`.
    """

    def __init__(
        self,
        clock: Callable[[], int] | None = None,
        *,
        auto_create_customers: bool = False,
    ) -> None:
        super().__init__(clock, auto_create_customers=auto_create_customers)

    def _auto_create(self, version: tuple[int, int, int]) -> bool:
        return self.auto_create_customers or version < _NO_AUTO_CREATE_SINCE

    def create(self, body: object) -> dict[str, Any]:
        """``POST /v1/balances.create``."""
        create_balance(self, parse_create(body))
        return {"success": True}

    def update(self, body: object) -> dict[str, Any]:
        """``POST /v1/balances.update``."""
        update_balance(self, parse_update(body))
        return {"success": True}

    def check(
        self,
        body: object,
        env: str = "sandbox",
        version: tuple[int, int, int] = DEFAULT_VERSION,
    ) -> dict[str, Any]:
        """``POST /v1/balances.check``."""
        params = parse_check(body)
        return check(self, params, env, auto_create=self._auto_create(version))

    def track(
        self,
        body: object,
        env: str = "sandbox",
        version: tuple[int, int, int] = DEFAULT_VERSION,
    ) -> dict[str, Any]:
        """``POST /v1/balances.track``."""
        params = parse_track(body, self.now())
        return track(self, params, env, auto_create=self._auto_create(version))

    def begin_track(
        self,
        body: object,
        env: str = "sandbox",
        version: tuple[int, int, int] = DEFAULT_VERSION,
        *,
        force_queue: bool = False,
    ) -> StagedTrack:
        """First half of ``POST /v1/balances.track``: validate and claim the body key.

        The track is queued (answered 202 without a balance) when the body says
        ``async: true``, when it omits ``async`` at version 2.5 or later, or when
        ``force_queue`` stands for the server queueing on its own (aggregate cap).
        """
        params = parse_track(body, self.now())
        queued = force_queue or bool(
            params.queue if params.queue is not None else version >= _ASYNC_TRACK_SINCE
        )
        return begin_track(self, params, env, queued=queued)

    def finish_track(
        self,
        staged: StagedTrack,
        env: str = "sandbox",
        version: tuple[int, int, int] = DEFAULT_VERSION,
    ) -> tuple[int, dict[str, Any]]:
        """Second half of ``POST /v1/balances.track``: the status and the body."""
        return finish_track(self, staged, env, auto_create=self._auto_create(version))

    def check_fallback(self, body: object) -> dict[str, Any]:
        """The 202 fail-open answer of ``POST /v1/balances.check`` for a valid body."""
        return check_fallback(parse_check(body))

    def batch_track(
        self,
        body: object,
        env: str = "sandbox",
        version: tuple[int, int, int] = DEFAULT_VERSION,
    ) -> dict[str, Any]:
        """``POST /v1/balances.batch_track``."""
        items = parse_batch(body, self.now())
        batch_track(self, items, env, auto_create=self._auto_create(version))
        return {"success": True}

    def get_or_create_customer(self, body: object, env: str = "sandbox") -> dict[str, Any]:
        """``POST /v1/customers``: get or create by ``id``."""
        c = Checker(body)
        customer_id = c.string("id", required=True)
        name = c.string("name")
        c.done()
        assert customer_id is not None
        return self.customer_json(self.add_customer(customer_id, name), env)

"""The errors of spec §10.2 that the emulator produces, as the SDK's typed errors."""

from __future__ import annotations

from typing import Any

import pytest

from autumn_async import (
    AsyncAutumn,
    AuthenticationError,
    AutumnDefaultError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
)
from autumn_emulator import Emulator

from ..conftest import INSTANT_RETRIES, SECRET
from .conftest import HOUR, T0

OPERATIONS: dict[str, dict[str, Any]] = {
    "create": {"feature_id": "messages", "included": 1},
    "update": {"feature_id": "messages", "current_balance": 1},
    "check": {"feature_id": "messages"},
    "track": {"feature_id": "messages"},
}


async def call(autumn: AsyncAutumn, operation: str, **overrides: Any) -> Any:
    """Call one balances operation with customer c1 and its usual arguments."""
    kwargs = {"customer_id": "c1", **OPERATIONS[operation], **overrides}
    return await getattr(autumn.balances, operation)(**kwargs)


def assert_error_body(error: AutumnDefaultError, status: int, code: str) -> None:
    """The error carries the status, the code, the sandbox env and a message."""
    assert (error.status_code, error.code, error.env) == (status, code, "sandbox")
    assert error.message
    assert error.body.startswith("{")


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_unknown_customer_is_not_found(autumn: AsyncAutumn, operation: str) -> None:
    """Every operation on an unknown customer raises NotFoundError customer_not_found (404)."""
    with pytest.raises(NotFoundError) as info:
        await call(autumn, operation, customer_id="nobody")
    assert_error_body(info.value, 404, "customer_not_found")
    assert "nobody" in info.value.message


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_unknown_feature_is_not_found(autumn: AsyncAutumn, operation: str) -> None:
    """Every operation on an unknown feature raises NotFoundError feature_not_found (404)."""
    with pytest.raises(NotFoundError) as info:
        await call(autumn, operation, feature_id="no_such_feature")
    assert_error_body(info.value, 404, "feature_not_found")


@pytest.mark.parametrize("operation", ["check", "track", "create"])
async def test_unknown_entity_is_not_found(autumn: AsyncAutumn, operation: str) -> None:
    """An entity the customer does not have raises NotFoundError entity_not_found (404)."""
    with pytest.raises(NotFoundError) as info:
        await call(autumn, operation, entity_id="seat_99")
    assert_error_body(info.value, 404, "entity_not_found")


async def test_check_and_track_do_not_auto_create_customers(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """At version 2.1 a check or track for a new customer does not create it (spec §8)."""
    for operation in ("check", "track"):
        with pytest.raises(NotFoundError):
            await call(autumn, operation, customer_id="newcomer")
    assert "newcomer" not in emu.state.customers


async def test_update_included_grant_without_balances_is_not_found(autumn: AsyncAutumn) -> None:
    """Changing the grant of a feature the customer has no balance for is 404 invalid_request."""
    with pytest.raises(NotFoundError) as info:
        await autumn.balances.update(customer_id="c1", feature_id="tokens", granted_balance=5)
    assert_error_body(info.value, 404, "invalid_request")


async def test_wrong_secret_key_is_an_authentication_error(emu: Emulator) -> None:
    """A key the server does not know raises AuthenticationError invalid_secret_key (401)."""
    async with AsyncAutumn(
        secret_key="am_sk_test_wrong", server_url=emu.url, retry_config=INSTANT_RETRIES
    ) as autumn:
        with pytest.raises(AuthenticationError) as info:
            await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert_error_body(info.value, 401, "invalid_secret_key")
    assert "am_sk_test_wrong" not in info.value.message  # the server masks the key
    assert emu.stats()["/v1/balances.check"] == 1  # a 401 is never retried


async def test_key_without_am_prefix_is_an_authentication_error(emu: Emulator) -> None:
    """A key without a known prefix is refused with 401 invalid_request.

    Follows ``server/src/honoMiddlewares/secretKeyMiddleware.ts``: a token that is not
    ``am_sk``/``am_pk``/``am_oauth_``/``am_jwt_`` is "Invalid authorization token prefix".
    """
    async with AsyncAutumn(secret_key="sk_live_nope", server_url=emu.url) as autumn:
        with pytest.raises(AuthenticationError) as info:
            await autumn.balances.track(customer_id="c1", feature_id="messages")
    assert (info.value.status_code, info.value.code) == (401, "invalid_request")
    assert info.value.message == "Invalid authorization token prefix"


async def test_unknown_api_version_is_a_bad_request(emu: Emulator) -> None:
    """x_api_version="9.9" raises BadRequestError invalid_api_version (400)."""
    async with AsyncAutumn(secret_key=SECRET, server_url=emu.url, x_api_version="9.9") as autumn:
        with pytest.raises(BadRequestError) as info:
            await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert_error_body(info.value, 400, "invalid_api_version")
    assert "9.9" in info.value.message


@pytest.mark.parametrize("version", ["2.1", "2", "2.1.0", "2026-03-17"])
async def test_accepted_api_versions(emu: Emulator, version: str) -> None:
    """The version header is normalised: "2.1", "2", "2.1.0" and registered CalVer dates.

    Follows ``shared/api/versionUtils/convertVersionUtils.ts`` (``parseVersion``) and
    ``versionRegistry.ts`` (2026-03-17 is 2.1.0; an unregistered date is a 400).
    """
    async with AsyncAutumn(secret_key=SECRET, server_url=emu.url, x_api_version=version) as autumn:
        await autumn.balances.create(customer_id="c1", feature_id="messages", included=1)
        result = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert result.allowed is True


@pytest.mark.parametrize(
    ("feature_id", "kwargs"),
    [
        ("messages", {}),  # metered with neither an amount nor unlimited
        ("messages", {"unlimited": True, "reset": "month"}),  # unlimited cannot reset
        ("sso", {"included": 5}),  # boolean cannot have an amount
        ("sso", {"unlimited": True}),  # ... nor be unlimited
        ("sso", {"reset": "month"}),  # ... nor reset
    ],
)
async def test_create_refinements_are_500_invalid_inputs(
    autumn: AsyncAutumn, emu: Emulator, feature_id: str, kwargs: dict[str, Any]
) -> None:
    """Create rules checked in the handler raise InternalServerError invalid_inputs, unretried."""
    with pytest.raises(InternalServerError) as info:
        await autumn.balances.create(customer_id="c1", feature_id=feature_id, **kwargs)
    assert_error_body(info.value, 500, "invalid_inputs")
    assert info.value.message.startswith("input: ")
    assert emu.stats()["/v1/balances.create"] == 1  # a validation 500 is not retried
    assert emu.balances("c1") == {}


async def test_fractional_interval_count_below_one_is_invalid_inputs(autumn: AsyncAutumn) -> None:
    """A reset interval_count of 0.5 passes the SDK's positive check and is a 400 invalid_inputs."""
    with pytest.raises(BadRequestError) as info:
        await autumn.balances.create(
            customer_id="c1",
            feature_id="messages",
            included=1,
            reset={"interval": "day", "interval_count": 0.5},
        )
    assert_error_body(info.value, 400, "invalid_inputs")
    assert "interval_count" in info.value.message


async def test_past_next_reset_at_on_create_is_invalid_request(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """A next_reset_at that is not in the future is 400 invalid_request."""
    with pytest.raises(BadRequestError) as info:
        await autumn.balances.create(
            customer_id="c1",
            feature_id="messages",
            included=1,
            reset="month",
            next_reset_at=emu.state.now() - HOUR,
        )
    assert_error_body(info.value, 400, "invalid_request")


async def test_past_expires_at_on_update_is_invalid_request(autumn: AsyncAutumn) -> None:
    """update with an expires_at in the past is 400 invalid_request."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=1)
    with pytest.raises(BadRequestError) as info:
        await autumn.balances.update(customer_id="c1", feature_id="messages", expires_at=T0 - 1)
    assert_error_body(info.value, 400, "invalid_request")


async def test_errors_are_not_retried(autumn: AsyncAutumn, emu: Emulator) -> None:
    """4xx answers are final: the SDK sends each refused call exactly once."""
    for operation in OPERATIONS:
        with pytest.raises(NotFoundError):
            await call(autumn, operation, customer_id="nobody")
    stats = emu.stats()
    assert [stats[f"/v1/balances.{op}"] for op in OPERATIONS] == [1, 1, 1, 1]

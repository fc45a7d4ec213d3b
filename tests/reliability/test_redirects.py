"""Redirects are never followed (issue 12 item 4): a 3xx is a ``RedirectError`` naming
where it pointed, and nothing is sent there.

Following one would turn ``POST balances.create`` into a ``GET`` elsewhere (301/302/303)
and report success for a create that never happened, or re-post the body and the key to
another host (307/308). Each case runs against a loopback server that answers the
redirect, with a second server as the target that must hear nothing.
"""

from __future__ import annotations

import asyncio
import pickle

import pytest

from autumn_async import AsyncAutumn, AutumnDefaultError, RedirectError

from ._servers import RawRequest, RawServer, respond

KEY = "am_sk_test_redirectK3yvalue0000"


async def _target(_: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    await respond(writer, 200, b'{"success": true, "allowed": true, "customer_id": "c"}')


def _redirect(status: int, location: str | None) -> object:
    async def script(_: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
        headers = {} if location is None else {"Location": location}
        await respond(writer, status, b"", headers=headers)

    return script


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("operation", ["create", "check"])
async def test_a_redirect_is_an_error_naming_the_location(status: int, operation: str) -> None:
    """The call raises RedirectError with the Location; the target never hears of it."""
    async with RawServer(_target) as target:
        location = f"{target.url}/elsewhere"
        async with (
            RawServer(_redirect(status, location)) as server,  # type: ignore[arg-type]
            AsyncAutumn(secret_key=KEY, server_url=server.url) as autumn,
        ):
            call = (
                autumn.balances.create(customer_id="c", feature_id="f", included=5)
                if operation == "create"
                else autumn.balances.check(customer_id="c", feature_id="f")
            )
            with pytest.raises(RedirectError) as info:
                await call
            assert len(server.requests) == 1  # a redirect is not retried either
        assert target.requests == []
    error = info.value
    assert isinstance(error, AutumnDefaultError)
    assert error.status_code == status
    assert error.location == location
    assert location in str(error)
    assert pickle.loads(pickle.dumps(error)).location == location


async def test_a_redirect_without_location_and_with_credentials() -> None:
    """No Location is said so; credentials in a Location are never repeated."""
    async with (
        RawServer(_redirect(302, None)) as bare,  # type: ignore[arg-type]
        RawServer(_redirect(307, "https://user:hunter2@evil.test/v1")) as creds,  # type: ignore[arg-type]
    ):
        for server, expected in (
            (bare, None),
            (creds, "https://[credentials removed]@evil.test/v1"),
        ):
            async with AsyncAutumn(secret_key=KEY, server_url=server.url) as autumn:
                with pytest.raises(RedirectError) as info:
                    await autumn.balances.check(customer_id="c", feature_id="f")
            assert info.value.location == expected
            assert "hunter2" not in repr(info.value.__dict__) + str(info.value)
    assert "without a Location" in str(info.value) or expected is not None


def test_sync_client_refuses_redirects_too() -> None:
    """The blocking client raises the same RedirectError."""
    from autumn_sync import Autumn

    async def scenario() -> None:
        async with RawServer(_redirect(308, "https://other.test/")) as server:  # type: ignore[arg-type]

            def call() -> None:
                with Autumn(secret_key=KEY, server_url=server.url) as autumn:
                    autumn.balances.track(customer_id="c", feature_id="f", value=1)

            with pytest.raises(RedirectError, match="other.test"):
                await asyncio.to_thread(call)
            assert len(server.requests) == 1

    asyncio.run(scenario())


async def test_a_callers_session_does_not_follow_redirects_either() -> None:
    """session=... (which follows redirects by default): the SDK's requests still do not."""
    import aiohttp

    async with RawServer(_target) as target:
        script = _redirect(302, f"{target.url}/elsewhere")
        async with (
            RawServer(script) as server,  # type: ignore[arg-type]
            aiohttp.ClientSession() as session,
            AsyncAutumn(secret_key=KEY, server_url=server.url, session=session) as autumn,
        ):
            with pytest.raises(RedirectError):
                await autumn.balances.create(customer_id="c", feature_id="f", included=5)
        assert target.requests == []

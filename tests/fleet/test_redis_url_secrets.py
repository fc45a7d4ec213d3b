"""Review: a Redis password must never show in a RedisSpool's repr (README "Security").

redis-py accepts the password in the URL's query string too (``?password=``), the form
some platforms hand out; ``_redact`` only strips ``user:password@``.
"""

from __future__ import annotations

import pytest

from autumn_async._fleet._redis_spool import RedisSpool, _redact, redact_url_in

SECRET = "hunter2-redis-pw"


@pytest.mark.parametrize(
    "url",
    [
        f"redis://127.0.0.1:6379/0?password={SECRET}",
        f"unix:///run/redis.sock?db=0&password={SECRET}",
    ],
)
def test_query_string_password_not_in_repr(url: str) -> None:
    spool = RedisSpool(url)
    assert SECRET not in repr(spool)


def test_userinfo_password_not_in_repr() -> None:
    spool = RedisSpool(f"redis://:{SECRET}@127.0.0.1:6379/0")
    assert SECRET not in repr(spool)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"redis://user:{SECRET}@h:6379/0", "redis://***@h:6379/0"),
        (
            f"rediss://h/0?username=bob&password={SECRET}&db=1",
            "rediss://h/0?username=***&password=***&db=1",
        ),
        (
            f"unix:///run/redis.sock?db=0&password={SECRET}",
            "unix:///run/redis.sock?db=0&password=***",
        ),
        ("redis://h:6379/0", "redis://h:6379/0"),
    ],
)
def test_every_credential_is_masked(url: str, shown: str) -> None:
    assert _redact(url) == shown
    assert SECRET not in redact_url_in(f"cannot reach {url}", url)


def test_cli_errors_mask_the_url_password(capsys: pytest.CaptureFixture[str]) -> None:
    # A port nobody listens on: the CLI reports the failure on one line, password masked.
    from autumn_async.fleet.__main__ import main

    status = main(["status", "--redis", f"redis://127.0.0.1:1/0?password={SECRET}"])
    assert status == 1
    assert SECRET not in capsys.readouterr().err

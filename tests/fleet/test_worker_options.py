"""Worker options that cannot work must be refused up front
(UsageError naming the field / exit status 2), not start a worker that delivers nothing."""

from __future__ import annotations

import gc
import math

import pytest

from autumn_async import UsageError
from autumn_async._fleet._redis_spool import RedisSpool
from autumn_async.fleet.__main__ import main


def test_infinite_lease_is_refused() -> None:
    with pytest.raises(UsageError) as raised:
        RedisSpool("redis://127.0.0.1:1/0", lease=math.inf)
    assert raised.value.field == "lease"


@pytest.mark.parametrize("value", ["-1", "nan"])
def test_bad_drain_timeout_is_refused(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTUMN_SECRET_KEY", "am_sk_test")
    monkeypatch.setenv("AUTUMN_SERVER_URL", "http://127.0.0.1:1")
    # Nothing listens on port 1: refused before connecting, the message names the option.
    assert main(["run", "--redis", "redis://127.0.0.1:1/0", "--drain-timeout", value]) == 2
    assert "drain" in capsys.readouterr().err
    gc.collect()  # a socket left open by a failed start is this test's, not the next one's


def test_unreachable_redis_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTUMN_SECRET_KEY", "am_sk_test")
    monkeypatch.setenv("AUTUMN_SERVER_URL", "http://127.0.0.1:1")
    assert main(["run", "--redis", "redis://127.0.0.1:1/0"]) == 1
    gc.collect()  # and no socket left open (ResourceWarning is an error here)


@pytest.mark.parametrize(
    ("option", "value"), [("--lease", "inf"), ("--lease", "0"), ("--concurrency", "0")]
)
def test_bad_lease_or_concurrency_is_refused_naming_the_option(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--redis", "redis://127.0.0.1:1/0", option, value]) == 2
    assert option in capsys.readouterr().err

"""Review: a Redis password must never show in a RedisSpool's repr (README "Security").

redis-py accepts the password in the URL's query string too (``?password=``), the form
some platforms hand out; ``_redact`` only strips ``user:password@``.
"""

from __future__ import annotations

import pytest

from autumn_async._fleet._redis_spool import RedisSpool

SECRET = "hunter2-redis-pw"


@pytest.mark.parametrize(
    "url",
    [
        f"redis://127.0.0.1:6379/0?password={SECRET}",
        f"unix:///run/redis.sock?db=0&password={SECRET}",
    ],
)
@pytest.mark.xfail(
    strict=True,
    reason="RedisSpool repr shows a password given as ?password= in the Redis URL",
)
def test_review_query_string_password_not_in_repr(url: str) -> None:
    spool = RedisSpool(url)
    assert SECRET not in repr(spool)


def test_review_userinfo_password_not_in_repr() -> None:
    spool = RedisSpool(f"redis://:{SECRET}@127.0.0.1:6379/0")
    assert SECRET not in repr(spool)

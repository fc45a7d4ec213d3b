"""The fleet CLI says what it did: an empty dead-letter list, ids that are no dead letters,
and the environment `run` reads (README "Running a fleet")."""

from __future__ import annotations

import gc

import pytest

from autumn_async.fleet.__main__ import main

from .redis_server import RedisServer


def test_an_empty_dead_letter_list_says_so(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dead-letters", "list", "--redis", redis_server.url]) == 0
    assert capsys.readouterr().out == "no dead letters\n"
    assert main(["dead-letters", "list", "--json", "--redis", redis_server.url]) == 0
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", "no dead letters\n")  # stdout stays JSON lines
    gc.collect()


@pytest.mark.parametrize("action", ["drop", "requeue"])
def test_unknown_dead_letter_ids_are_named(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    assert main(["dead-letters", action, "--redis", redis_server.url, "1-1", "2-5"]) == 1
    err = capsys.readouterr().err
    assert "1-1" in err and "2-5" in err, err
    gc.collect()


def test_run_help_names_the_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in ("AUTUMN_REDIS_URL", "AUTUMN_SECRET_KEY", "AUTUMN_SERVER_URL"):
        assert name in text

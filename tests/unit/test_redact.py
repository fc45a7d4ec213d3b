"""``redact_secret``: the key, and any run of 8 or more of its characters, becomes
``[redacted]``; nothing else changes."""

from __future__ import annotations

import pytest

from autumn_async._errors import redact_secret

KEY = "am_sk_test_Zq8sECRETv4lue0123456789"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"bad key {KEY}.", "bad key [redacted]."),
        (f"{KEY}{KEY}", "[redacted]"),
        (f"a {KEY} b {KEY} c", "a [redacted] b [redacted] c"),
        (f"cut {KEY[:-4]}****", "cut [redacted]****"),
        (f"tail {KEY[11:]}", "tail [redacted]"),
        ("middle Zq8sECRETv4 only", "middle [redacted] only"),
        ("seven am_sk_t chars stay", "seven am_sk_t chars stay"),
        ("nothing here", "nothing here"),
        ("", ""),
    ],
)
def test_redacts_the_key_and_long_fragments(text: str, expected: str) -> None:
    """Whole, repeated, cut, tail and middle fragments go; short common runs stay."""
    assert redact_secret(text, KEY) == expected


def test_no_secret_means_no_change() -> None:
    """Without a key (a custom transport) the text is returned as it is."""
    assert redact_secret(f"x {KEY}", None) == f"x {KEY}"


def test_a_short_secret_is_redacted_whole() -> None:
    """A key shorter than the fragment length is matched whole."""
    assert redact_secret("k=abc123!", "abc123") == "k=[redacted]!"

"""MkDocs hook: docstrings use reST roles (:class:`X`); show them as plain code, not as text."""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|exc|mod|data|obj):(<code>)")


def on_page_content(html: str, **_: Any) -> str:
    """Drop the role prefix that Markdown leaves in front of the rendered ``<code>``."""
    return _ROLE.sub(r"\1", html)

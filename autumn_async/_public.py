"""Public classes say where users import them from: ``autumn_async``, not a private module.

Tracebacks, reprs and pickles then read ``autumn_async.NotFoundError`` rather than
``autumn_async._errors.NotFoundError``; unpickling resolves the name through the
package's lazy ``__getattr__``. Classes of the public ``models`` module keep theirs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["publish"]


def publish(
    namespace: dict[str, Any], names: tuple[str, ...], package: str = "autumn_async"
) -> None:
    """Set ``__module__`` of the classes ``names`` in ``namespace`` to ``package``."""
    for name in names:
        obj = namespace[name]
        if isinstance(obj, type):
            obj.__module__ = package

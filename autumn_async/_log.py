"""The SDK's loggers: everything logs under ``autumn_balances``, one child logger per area.

``autumn`` is taken (the ``autumn-python`` SDK logs there), so this package has a namespace of
its own. Areas: ``http`` (one DEBUG line per attempt), ``retry`` (each wait before another
attempt), ``fail_open`` (a WARNING when ``check`` fails open), ``batcher`` (drops, refusals,
shutdown), ``fleet`` (Redis spool and workers: reclaims, dead letters) and ``sync`` (the sync
client's private loop at exit). As the logging HOWTO asks of libraries, the root SDK logger
has a ``NullHandler`` and nothing else: the application decides where records go, and with
logging unconfigured nothing is printed.
"""

from __future__ import annotations

import logging

__all__ = ["ROOT_LOGGER", "sdk_logger"]

ROOT_LOGGER = "autumn_balances"
AREAS = frozenset({"http", "retry", "fail_open", "batcher", "fleet", "sync"})

_root = logging.getLogger(ROOT_LOGGER)
if not any(isinstance(handler, logging.NullHandler) for handler in _root.handlers):
    _root.addHandler(logging.NullHandler())


def sdk_logger(area: str) -> logging.Logger:
    """The logger for one area of the SDK, ``autumn_balances.<area>``."""
    if area not in AREAS:
        raise ValueError(f"unknown logging area {area!r}; add it to AREAS")
    return logging.getLogger(f"{ROOT_LOGGER}.{area}")

"""What holds the secret key or live connections stays in the process that made it.

Pickling a client would write its secret key in clear text wherever the bytes go: a task
queue's broker (Celery pickles arguments), a multiprocessing pipe (``spawn`` pickles a
``Process``'s arguments), a cache. Like httpx's and aiohttp's clients, the SDK's objects
refuse: :class:`ProcessBound` (clients, their resources, batchers, the pipeline and the
transport) refuses pickling and copying with a ``TypeError`` that says what to do instead;
:class:`NotPicklable` (the immutable values a client is built from: ``SecretKey``,
``ClientOptions``) refuses pickling, and a copy of one is the object itself.

A copy of a client is refused rather than made: a shallow copy would share the original's
pools, loop thread and batchers (closing one would close the other's), and a deep copy
would try to copy sockets, locks and an event loop. Errors, events and response models
are plain values and pickle (errors never hold the key).
"""

from __future__ import annotations

from typing import Any, NoReturn, SupportsIndex, TypeVar

__all__ = ["NotPicklable", "ProcessBound"]

_T = TypeVar("_T")

_PICKLE_HINT = (
    "it is part of an Autumn client, which holds the secret key (pickling would write it "
    "in clear text wherever the bytes go: a task queue, a pipe, a cache) and open "
    "connections. Create the client in each process instead: AsyncAutumn() and Autumn() "
    "read AUTUMN_SECRET_KEY and AUTUMN_SERVER_URL from the environment (with Celery, in a "
    "worker_process_init handler or at import time). Send plain values such as customer "
    "ids, feature ids and amounts to other processes."
)

_COPY_HINT = (
    "it is part of an Autumn client, which owns connection pools, a loop thread and "
    "batchers that a copy would share or duplicate. Use the same object (a client may be "
    "shared by tasks and threads), or create another client."
)


def _refuse_pickle(obj: object) -> NoReturn:
    raise TypeError(f"cannot pickle {type(obj).__name__}: {_PICKLE_HINT}")


class NotPicklable:
    """An immutable value of a client's: never pickled; a copy is the value itself."""

    __slots__ = ()

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        _refuse_pickle(self)

    def __reduce__(self) -> NoReturn:
        _refuse_pickle(self)

    def __copy__(self: _T) -> _T:
        return self

    def __deepcopy__(self: _T, memo: dict[int, Any]) -> _T:
        return self


class ProcessBound(NotPicklable):
    """A live object of a client's (session, loop, queue): never pickled, never copied."""

    __slots__ = ()

    def __copy__(self) -> NoReturn:
        raise TypeError(f"cannot copy {type(self).__name__}: {_COPY_HINT}")

    def __deepcopy__(self, memo: dict[int, Any]) -> NoReturn:
        raise TypeError(f"cannot deepcopy {type(self).__name__}: {_COPY_HINT}")

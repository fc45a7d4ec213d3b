"""Use the portal, fork, use it in the child (which exits normally), then in the parent."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import threading

import _load_tolerant  # noqa: F401  (a 5 s slow-callback threshold, before any loop exists)
from _sessions import open_session

from autumn_sync import _portal


async def where() -> tuple[int, asyncio.AbstractEventLoop]:
    await asyncio.sleep(0)
    return threading.get_native_id(), asyncio.get_running_loop()


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(await reader.readline())
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    # Ready-made sockets, no host names: a uvloop parent that ever used libuv's thread
    # pool (getaddrinfo) makes its forked children crash in libuv's exit destructor.
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    servers.append(await asyncio.start_server(echo, sock=listener))
    return await asyncio.open_connection(sock=client)


async def round_trip() -> bytes:
    writer.write(b"ping\n")
    return await asyncio.wait_for(reader.readline(), 5)


async def close_connection() -> None:
    writer.close()
    await writer.wait_closed()
    for server in servers:
        server.close()
        await server.wait_closed()


servers: list[asyncio.Server] = []
parent_tid, parent_loop = _portal.run(where())
loop_kind = type(parent_loop).__module__.split(".")[0]
print(f"loop={loop_kind}", flush=True)
open_session("parent")
# A kept-alive connection of the parent's, registered in the epoll set the child shares.
reader, writer = _portal.run(connect())

pid = os.fork()
if pid == 0:
    child_tid, child_loop = _portal.run(where())
    assert child_loop is not parent_loop, "the child reused the parent's loop"
    assert child_tid != parent_tid, "the child ran on the parent's loop thread"
    assert _portal.loop() is child_loop
    if loop_kind == "asyncio":
        # A careless finaliser closing an inherited transport: the inherited loop is
        # marked closed, so this must not unregister the parent's socket from epoll.
        with contextlib.suppress(RuntimeError):  # "Event loop is closed"
            writer.transport.close()
    # What the connection's owner must do in a child (the transport does it for its
    # sessions): keep inherited I/O objects alive, unfinalised. Finalising uvloop
    # handles of the parent's loop at exit crashes the child.
    _portal.abandon((reader, writer, servers))
    open_session("child")
    print("child ok", flush=True)
    sys.exit(0)  # a normal exit: the child's atexit clean-up runs

_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
for _ in range(3):  # would hang if the child had unregistered our self-pipe from epoll
    tid, loop = _portal.run(where())
    assert loop is parent_loop, "the parent lost its loop"
    if _portal.PARK_BEFORE_FORK:  # 3.12+: the thread was parked for the fork, then restarted
        assert tid != parent_tid, "the loop's thread was alive at fork"
    else:
        assert tid == parent_tid, "the parent's loop moved to another thread"
assert _portal.run(round_trip()) == b"ping\n"
_portal.run(close_connection())
print("parent ok", flush=True)

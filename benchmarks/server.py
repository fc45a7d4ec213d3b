"""The loopback server the benchmark clients talk to: HTTP/1.1 keep-alive, canned answers.

A raw asyncio ``Protocol`` (on uvloop when installed) that reads a request head and its
body and writes precomputed response bytes, so that the server costs as little as
possible and the client's cost is what the numbers show. It answers any path: a path
mentioning ``check`` or ``entitled`` gets the ``balances.check`` example body, ``track``
or ``events`` gets the ``balances.track`` example; clients that send ``x-api-version:
1.x`` (autumn-py) get the older response shape their models require. ``GET /__count``
returns how many requests were answered, so a run can tell a retry from a call.

Run as ``python benchmarks/server.py [--cpu N]``; it prints ``PORT <n>`` once listening
and serves until stdin closes (so it never outlives the benchmark that started it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

BODIES = Path(__file__).resolve().parent / "bodies"


def _compact(name: str) -> bytes:
    data = json.loads((BODIES / name).read_text())
    return json.dumps(data, separators=(",", ":")).encode()


def _response(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: keep-alive\r\n"
        "\r\n"
    )
    return head.encode() + body


CHECK = _response("200 OK", _compact("check.json"))
TRACK = _response("200 OK", _compact("track.json"))
CHECK_V1 = _response("200 OK", _compact("check_v1.2.json"))
TRACK_V1 = _response("200 OK", _compact("track_v1.2.json"))
NOT_FOUND = _response("404 Not Found", b'{"message":"no such route","code":"not_found"}')

_count = 0


def _answer(path: bytes, head: bytes) -> bytes:
    legacy = b"\r\nx-api-version: 1." in head
    if b"check" in path or b"entitled" in path:
        return CHECK_V1 if legacy else CHECK
    if b"track" in path or b"events" in path:
        return TRACK_V1 if legacy else TRACK
    if path.startswith(b"/__count"):
        return _response("200 OK", json.dumps({"requests": _count}).encode())
    return NOT_FOUND


def _chunked_end(buf: bytearray, start: int) -> int:
    """Offset just past a complete chunked body starting at ``start``, or -1."""
    pos = start
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return -1
        size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
        pos = eol + 2
        if size == 0:
            # Trailers (none expected) end with an empty line.
            end = buf.find(b"\r\n", pos)
            return -1 if end < 0 else end + 2
        pos += size + 2
        if pos > len(buf):
            return -1


class HTTPProtocol(asyncio.Protocol):
    """One keep-alive connection: parse as many complete requests as have arrived."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; both have write().
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        global _count  # noqa: PLW0603 (one counter per server process)
        buf = self.buf
        buf += data
        while True:
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = bytes(buf[:head_end]).lower()
            line_end = head.find(b"\r\n")
            request_line = head if line_end < 0 else head[:line_end]
            parts = request_line.split(b" ")
            path = parts[1] if len(parts) > 1 else b"/"
            body_start = head_end + 4
            if b"\r\ntransfer-encoding: chunked" in head:
                end = _chunked_end(buf, body_start)
                if end < 0:
                    return
            else:
                length = 0
                at = head.find(b"\r\ncontent-length:")
                if at >= 0:
                    eol = head.find(b"\r\n", at + 2)
                    length = int(head[at + 17 : eol if eol >= 0 else len(head)])
                end = body_start + length
                if len(buf) < end:
                    return
            del buf[:end]
            if not path.startswith(b"/__count"):
                _count += 1
            self.transport.write(_answer(path, head))


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None, help="pin the server to this core")
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    loop = _new_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(HTTPProtocol, "127.0.0.1", args.port, backlog=1024)
    )
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port} LOOP {type(loop).__module__}", flush=True)

    def watch_stdin() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(loop.stop)

    threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        loop.run_forever()
    finally:
        server.close()
        loop.close()


if __name__ == "__main__":
    main()

"""One AsyncAutumn used in the parent, in a forked child, and in the parent again."""

import asyncio
import os
import sys

from aiohttp import web

from autumn_async import AsyncAutumn


class _LoadTolerantPolicy(asyncio.DefaultEventLoopPolicy):
    """Loops whose slow-callback threshold suits a loaded 2-core CI machine.

    asyncio's debug mode (on in the suite) logs any step over 0.1 s; on a busy machine a
    step can be descheduled that long, and this script's stderr must stay empty for the
    reasons it tests, not for the machine's load.
    """

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()
        loop.slow_callback_duration = 5.0
        return loop


asyncio.set_event_loop_policy(_LoadTolerantPolicy())

BODY = {"allowed": True, "customer_id": "c", "balance": None, "flag": None}


def serve(port_w: int) -> None:
    async def handle(request: web.Request) -> web.Response:
        return web.json_response({**BODY, "customer_id": str(os.getpid())})

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/balances.check", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        os.write(port_w, f"{port}\n".encode())
        await asyncio.Event().wait()

    asyncio.run(main())


def main() -> int:
    r, w = os.pipe()
    server_pid = os.fork()
    if server_pid == 0:
        serve(w)
        os._exit(0)
    port = int(os.read(r, 64).decode().strip())
    autumn = AsyncAutumn(secret_key="am_sk_test_x", server_url=f"http://127.0.0.1:{port}")

    async def call() -> bool:
        res = await autumn.balances.check(customer_id="c", feature_id="f")
        return res.allowed

    # Two asyncio.run calls in the parent: one pool per loop, each closed with its loop.
    assert asyncio.run(call())
    loop = asyncio.new_event_loop()
    assert loop.run_until_complete(call())  # pool opened on a loop that stays open
    child = os.fork()
    if child == 0:
        # The child must not touch the parent's pool; it opens its own and exits normally.
        ok = asyncio.run(call())
        asyncio.run(autumn.aclose())
        sys.exit(0 if ok else 3)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
    # The parent's pool on its still-open loop keeps working after the child is gone.
    assert loop.run_until_complete(call())
    loop.run_until_complete(autumn.aclose())
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    os.kill(server_pid, 9)
    os.waitpid(server_pid, 0)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

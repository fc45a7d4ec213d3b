"""Quickstart, asyncio: make sure the customer exists, grant a monthly allowance,
check-and-deduct atomically, record usage.

Against your Autumn sandbox::

    AUTUMN_SECRET_KEY=am_sk_test_... python examples/quickstart_async.py

``AUTUMN_SERVER_URL`` picks another server (``make demo`` points it at the local emulator).
The customer ``AUTUMN_CUSTOMER_ID`` (default ``user_123``) is created on the first run;
the metered feature ``AUTUMN_FEATURE_ID`` (default ``messages``) must already exist.
Each run grants 100 more.
"""

from __future__ import annotations

import asyncio
import os
import sys

from autumn_async import AsyncAutumn, AutumnError

CUSTOMER_ID = os.environ.get("AUTUMN_CUSTOMER_ID", "user_123")
FEATURE_ID = os.environ.get("AUTUMN_FEATURE_ID", "messages")


async def main(
    server_url: str | None = None,
    secret_key: str | None = None,
    *,
    customer_id: str = CUSTOMER_ID,
    feature_id: str = FEATURE_ID,
) -> None:
    """Run the quickstart; the URL and key default to AUTUMN_SERVER_URL / AUTUMN_SECRET_KEY."""
    async with AsyncAutumn(
        server_url=server_url, secret_key=secret_key, x_api_version="2.1"
    ) as autumn:
        await autumn.warm_up()  # import the HTTP stack off the loop, open the pool
        # First, always: from API version 2.1 check and track answer 404 for a customer
        # Autumn has not seen. get_or_create returns the existing one unchanged.
        customer = await autumn.customers.get_or_create(
            customer_id=customer_id, name="Quickstart user"
        )
        print(f"customer {customer.id} ready ({customer.name})")

        await autumn.balances.create(
            customer_id=customer_id, feature_id=feature_id, included=100, reset="month"
        )
        print(f"granted 100 {feature_id} to {customer_id}, resetting every month")

        # Check and deduct in one atomic call: nothing is deducted when it is denied.
        check = await autumn.balances.check(
            customer_id=customer_id, feature_id=feature_id, required_balance=5, send_event=True
        )
        left = f"{check.balance.remaining:g}" if check.balance else "n/a"
        print(f"check-and-deduct 5 {feature_id}: allowed={check.allowed} (remaining: {left})")

        # Ten tracks at once: each carries its own idempotency key, so none counts twice.
        results = await asyncio.gather(
            *(
                autumn.balances.track(customer_id=customer_id, feature_id=feature_id)
                for _ in range(10)
            )
        )
        print(f"tracked {len(results)} {feature_id} concurrently")

        final = await autumn.balances.check(customer_id=customer_id, feature_id=feature_id)
        left = f"{final.balance.remaining:g}" if final.balance else "n/a"
        print(f"remaining {feature_id}: {left}")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except AutumnError as exc:
        print(f"quickstart failed: {exc!r}", file=sys.stderr)
        sys.exit(1)

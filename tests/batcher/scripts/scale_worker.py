"""Track COUNT events through a sync batcher with default options, then close or just exit.

Usage: scale_worker.py URL COUNT TAG ENDING, where ENDING is ``close`` (``batcher.close()``)
or ``exit`` (return from the script with the batcher still open). Keys are
``TAG-<i>``. Prints the batcher's counters as JSON (after close, or before exit).
"""

import json
import sys

import attrs

from autumn_sync import Autumn


def main(url: str, count: int, tag: str, ending: str) -> None:
    autumn = Autumn(secret_key="am_sk_test", server_url=url)
    batcher = autumn.batcher()
    for i in range(count):
        batcher.track(customer_id="c1", feature_id="messages", idempotency_key=f"{tag}-{i}")
    if ending == "close":
        batcher.close()
        autumn.close()
    print(json.dumps(attrs.asdict(batcher.stats)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])

"""``python -m autumn_async.emulator``: an alias of ``python -m autumn_emulator``."""

from autumn_emulator.__main__ import main

if __name__ == "__main__":
    raise SystemExit(main())

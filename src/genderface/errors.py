"""User-facing failures: one line saying what is wrong and what to do, then a non-zero exit."""

import logging
import sys
from collections.abc import Callable


class GenderfaceError(Exception):
    """A problem the user can fix; its message is shown as-is, without a traceback."""


def run_main(main: Callable[[], None]) -> None:
    """Run a stage or CLI entry point; a GenderfaceError becomes one line on stderr and exit 1."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        main()
    except GenderfaceError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)

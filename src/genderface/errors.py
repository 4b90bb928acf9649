"""User-facing failures: one line saying what is wrong and what to do, then a non-zero exit.

Tracebacks are for developers: `--verbose` on a stage script (or GENDERFACE_VERBOSE=1 in the
environment, which `dvc repro` passes through to every stage) prints them as well.
"""

import logging
import os
import sys
import traceback
from collections.abc import Callable

VERBOSE_ENV = "GENDERFACE_VERBOSE"
VERBOSE_FLAG = "--verbose"


class GenderfaceError(Exception):
    """A problem the user can fix; its message is shown as-is, without a traceback."""


def set_verbose() -> None:
    """Ask for tracebacks, in this process and in every process it starts (dvc, stages)."""
    os.environ[VERBOSE_ENV] = "1"


def verbose() -> bool:
    """True when the user asked for tracebacks (GENDERFACE_VERBOSE set to anything but 0/empty)."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def _print_traceback(err: BaseException) -> None:
    # Errors re-raised `from None` hide their cause; in verbose mode the cause is the point.
    if err.__cause__ is None and err.__suppress_context__ and err.__context__ is not None:
        traceback.print_exception(err.__context__, file=sys.stderr)
    traceback.print_exception(err, file=sys.stderr)


def _report(line: str) -> None:
    """Print the error on a line of its own. Every progress bar is a context manager, so by now
    the failure has closed the bars it interrupted (tqdm ends them with a newline)."""
    print(line, file=sys.stderr)


def run_main(main: Callable[[], None]) -> None:
    """Run a stage or CLI entry point: any failure becomes one `error:` line on stderr and exit 1.

    A GenderfaceError's message is shown as written. Anything else (a full disk, a bug) is shown
    as its type and first line, with a hint to rerun verbosely for the traceback.
    """
    if VERBOSE_FLAG in sys.argv[1:]:
        sys.argv.remove(VERBOSE_FLAG)
        set_verbose()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        main()
    except KeyboardInterrupt:
        _report("error: interrupted")
        sys.exit(130)
    except GenderfaceError as err:
        if verbose():
            _print_traceback(err)
        _report(f"error: {err}")
        sys.exit(1)
    except Exception as err:
        if verbose():
            _print_traceback(err)
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        hint = "" if verbose() else f"; rerun with {VERBOSE_FLAG} or {VERBOSE_ENV}=1 for details"
        _report(f"error: {type(err).__name__}: {first}{hint}")
        raise SystemExit(1) from err

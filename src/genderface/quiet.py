"""TensorFlow's C++ start-up noise kept off stderr unless asked for (--verbose, GENDERFACE_VERBOSE).

While its shared libraries load, TensorFlow writes "All log messages before absl::InitializeLog()
is called are written to STDERR", oneDNN, cudart and cpu_feature_guard notices straight to file
descriptor 2, before any log setting is read (tensorflow/tensorflow#62770); on a machine without
a GPU it then logs "failed call to cuInit" as an error. They look like failures and bury the
stages' own lines and progress bars. `install` runs when an entry point imports
genderface.entry_point, before any of its modules imports TensorFlow: it sets
TF_CPP_MIN_LOG_LEVEL=3 for what TensorFlow logs later, and has `tensorflow` imported with file
descriptor 2 pointed at /dev/null. Python warnings, exceptions and the pipeline's own logging are
untouched, and a crash while TensorFlow loads (an abort, an illegal instruction) still says so
on the real stderr (faulthandler), with where it happened.

One mechanism for every entry point (stage scripts, `genderface predict`): each imports
genderface.entry_point before any library that imports TensorFlow (dvclive.keras does).
"""

import faulthandler
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from genderface.errors import VERBOSE_FLAG, verbose

TF_LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 (C/C++ writes included, not only sys.stderr) to /dev/null; a fatal
    signal meanwhile is still reported, with its Python traceback, on the real stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    # A handler someone already installed (pytest, python -X faulthandler) stays theirs.
    report_crash = not faulthandler.is_enabled()
    real_stderr = os.fdopen(saved, "w", closefd=False)
    try:
        os.dup2(devnull, 2)
        if report_crash:
            faulthandler.enable(file=real_stderr)
        yield
    finally:
        os.dup2(saved, 2)
        if report_crash:
            faulthandler.disable()
        real_stderr.close()
        os.close(saved)
        os.close(devnull)


class _QuietLoader(importlib.abc.Loader):
    """The real loader of `tensorflow`, executing the module with stderr silenced."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> Any:  # resource readers, is_package, ...
        return getattr(self._loader, name)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with native_stderr_silenced():
            self._loader.exec_module(module)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` where Python would, and gives it the silencing loader."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name != "tensorflow":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Quiet TensorFlow's start-up, unless the user asked for everything (--verbose)."""
    if verbose() or VERBOSE_FLAG in sys.argv[1:] or "tensorflow" in sys.modules:
        return
    os.environ.setdefault(TF_LOG_LEVEL_ENV, "3")
    if not any(isinstance(finder, _QuietTensorFlowFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowFinder())

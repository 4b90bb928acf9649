"""Importing the package changes nothing; an entry point's quieting hides TensorFlow's start-up
lines but never a crash while TensorFlow loads."""

import subprocess
import sys
from pathlib import Path

from .conftest import REPO

STATE = "import os, sys; state = lambda: (dict(os.environ), [repr(f) for f in sys.meta_path])"


def _python(code: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, **kwargs
    )


def test_importing_the_package_leaves_environ_and_import_system_alone():
    code = f"{STATE}; before = state(); import genderface; assert state() == before, 'changed'"
    result = _python(code)
    assert result.returncode == 0, result.stderr
    changed = _python(
        f"{STATE}; before = state(); import genderface.entry_point; print(state() == before)"
    )
    assert changed.stdout.strip() == "False", "the entry point's import is the one that quiets"


def test_a_crash_while_tensorflow_loads_is_still_reported(tmp_path: Path):
    """A TensorFlow whose import aborts (as a build for another CPU does) under the entry point:
    stderr is silenced while it loads, yet the fatal signal and where it struck are shown."""
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text("import os\nos.abort()\n")
    result = _python(
        "import genderface.entry_point\nimport tensorflow\n",
        env={"PYTHONPATH": f"{tmp_path}:{REPO / 'src'}", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "Fatal Python error: Aborted" in result.stderr, result.stderr
    assert "tensorflow/__init__.py" in result.stderr, "it says where"

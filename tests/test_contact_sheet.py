"""scripts/contact_sheet.py: the sheets docs/data.md's age count was made on."""

import subprocess
import sys
from pathlib import Path

from PIL import Image

from .conftest import REPO, write_faces

SCRIPT = str(REPO / "scripts" / "contact_sheet.py")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, SCRIPT, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_one_numbered_sheet_per_fifty_images_per_class_the_same_for_the_same_seed(tmp_path):
    write_faces(tmp_path / "archive", per_class=60)
    for out in ("a", "b"):
        done = _run(str(tmp_path / "archive"), "--per-class", "55", "--out", out, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    names = ["man-0.png", "man-50.png", "woman-0.png", "woman-50.png"]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == names
    # 50 thumbnails are 5 rows of 10, the 5 left over one row
    assert Image.open(tmp_path / "a" / "man-0.png").size == (1400, 700)
    assert Image.open(tmp_path / "a" / "man-50.png").size == (1400, 140)
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_missing_folder_or_too_few_files_is_one_line_and_writes_nothing(tmp_path):
    missing = _run(str(tmp_path / "nowhere"), cwd=tmp_path)
    assert missing.returncode != 0
    assert missing.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nowhere' / 'faces'}: no such folder; pass the folder that holds "
        "faces/<class>/"
    ]
    write_faces(tmp_path / "archive", per_class=3)
    few = _run(str(tmp_path / "archive"), "--per-class", "4", cwd=tmp_path)
    assert few.returncode != 0
    assert few.stderr.strip().splitlines() == [
        "error: fewer than --per-class 4 files in {'man': 3, 'woman': 3}; pass fewer"
    ]
    assert not (tmp_path / "sheets").exists()

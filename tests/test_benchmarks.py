"""Every script in benchmarks/ runs on the current code: each once, on tiny arguments (a few
generated images, 32 px, one round, weights none), the machine line first, then its parameters,
then its figure lines; each test checks that a parameter it passed reached the run, or the
direction of an effect that is large by construction, not merely that numbers were printed.

The figures in docs/performance.md come from the scripts with the arguments quoted beside them;
these tests prove the scripts still run, still measure what they say, and still print what that
page quotes.
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
from tests.conftest import REPO, require_sample, write_faces, write_utkface, zip_folder

NUMBER = r"(-?\d+(?:\.\d+)?)"
MACHINE = r"machine: .+, \d+ cores, bfloat16 (yes|no), TensorFlow \S+, Keras \S+"
TINY = [
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


def parameters(output: str) -> str:
    """The parameters line, after asserting the output's first line names the machine."""
    assert re.fullmatch(MACHINE, output.splitlines()[0]), output[:500]
    found = re.search(r"^parameters: (.+)$", output, re.MULTILINE)
    assert found, output
    return found[1]


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
    assert "sizes [32], rounds 1, batches 1, passes 1" in parameters(output)
    assert "1 batches of 32x32x32x3, 1 passes, best of 1" in output  # the batches as made
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
    assert "size 32 px, batch 20," in parameters(output)
    assert figures(rf"^{NUMBER} sample images at 32 px \(as written to the shards\)", output) == [
        24.0
    ]
    for row in ("(a) original", "(b) project", "(c) decode"):
        assert figures(rf"^{re.escape(row)}.*?\s{NUMBER}\s+\d+$", output)[0] > 0
    assert min(figures(rf"^\(b\)/\(a\) = {NUMBER}\s+\(b\)/\(c\) = {NUMBER}$", output)) > 0


@pytest.mark.slow  # a fresh-clone dvc repro, then phase 1 trained twice
def test_bottleneck_cache_trains_the_transfer_head_faster_on_cached_features(
    tmp_path: Path,
) -> None:
    archive = tiny_archive(tmp_path)
    output = run(
        "bottleneck_cache.py", "--sample", str(archive), "--size", "32", "--epochs", "2",
        "--set", "train.batch_size=8", "--set", "model.head_units=8",
        cwd=tmp_path,
    )  # fmt: skip
    given = parameters(output)
    assert "recipe transfer, " in given  # the only recipe with a bottleneck cache
    assert "image size (shards) 32 px, " in given
    assert "phase-1 epochs 2, batch 8, head units 8," in given
    full, head = (
        figures(rf"^{re.escape(row)}\s+{NUMBER}$", output)[0]
        for row in ("recomputing VGG16 every epoch", "bottleneck cache (head on cached features)")
    )
    assert re.search(r"^dtype policy the runs trained under: [\w]+$", output, re.MULTILINE)
    # By construction: a head epoch skips VGG16's 13 convolutions that the other epoch runs.
    assert head < full, output
    assert figures(rf"^whole phase 1 \(2 epochs\): {NUMBER}x$", output)[0] > 0


@pytest.mark.slow  # a fresh-clone dvc repro (the recipe is resolved by the clone's package)
def test_bottleneck_cache_refuses_a_recipe_without_the_cache(tmp_path: Path) -> None:
    archive = tiny_archive(tmp_path)
    result = subprocess.run(
        [
            sys.executable, str(REPO / "benchmarks/bottleneck_cache.py"), "--sample", str(archive),
            "--size", "32", "--set", "train.recipe=scratch",
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 1
    assert "error: recipe scratch: only the transfer recipe caches features" in result.stderr


@pytest.mark.slow  # a fresh-clone dvc repro, then five or seven VGG16 models, four or five fitted
def test_cpu_precision_prints_the_ratios(tmp_path: Path) -> None:
    archive = tiny_archive(tmp_path)
    output = run(
        "cpu_precision.py", "--sample", str(archive), "--size", "32", "--rounds", "1",
        "--steps", "1", "--feature-batches", "1", *TINY,
        cwd=tmp_path,
    )  # fmt: skip
    given = parameters(output)
    # --size reached the shards; the plain VGG16 the quoted figures were measured on
    assert given.startswith("image size (shards) 32 px, model.weights none, model.batch_norm False")
    assert "head units 8, batch 8, " in given
    (policy,) = re.findall(r"policy here (\S+),", given)
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
    assert "predict files 2, rounds 1, " in parameters(output)
    assert "model input 32 px" in parameters(output)  # --image-size reached the model built
    # the count each predict run labelled: --predict-files reached the folder predicted
    assert "predict --crop-face on 2 portraits, best of 1 rounds:" in output
    assert figures(rf"^BlazeFace / Haar speed = {NUMBER} ", output)[0] > 0


def tiny_pipeline(folder: Path, tiny_params: Params) -> list[str]:
    """pipeline.py's arguments for a tiny run: the tiny demo's own images as the "real data"
    (data/raw/archive comes out byte-identical, so the default path's experiment reruns
    download@archive, split and evaluate only, the same lines of the script run), a generated
    fairface-540, 32 px."""
    demo = tiny_params.data.demo
    write_demo(demo, folder / "faces")
    archive = zip_folder(folder / "faces", folder / "sample.zip", prefix="faces/")
    demo_params = [f"--set=data.demo.{key}={value}" for key, value in demo.model_dump().items()]
    (folder / "ff").mkdir()
    fairface = fairface_like(folder / "ff")
    return [
        "--sample", str(archive), "--fairface", str(fairface),
        "--set", "data.image_size=32", *TINY, *demo_params,
        # the transfer recipe's phase 1 on cached features: the cheapest training that runs the
        # same stages (params.yaml's random weights would train every layer)
        "--set", "train.recipe=transfer", "--set", "train.fine_tune_blocks=0",
        # the generated pictures hold no face: scored whole, every one counts
        "--set", "data.framing=whole",
    ]  # fmt: skip


def locked(output: str) -> str:
    """The keys dvc.lock recorded for the last run, as pipeline.py prints them."""
    found = re.search(r"^dvc\.lock, last run: (.+)$", output, re.MULTILINE)
    assert found, output
    return found[1]


@pytest.mark.slow  # a tiny dvc repro in a fresh clone, then an experiment on the same images
def test_pipeline_prints_the_wall_times(tmp_path: Path, tiny_params: Params) -> None:
    output = run("pipeline.py", *tiny_pipeline(tmp_path, tiny_params), cwd=tmp_path)
    assert "data.image_size 32, data.framing whole, " in parameters(output)
    # --set reached the runs: dvc.lock holds what the stages read
    ran = locked(output)
    assert "data.image_size 32, data.framing whole, " in ran
    assert "train.recipe transfer, train.epochs 1, " in ran
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


@pytest.mark.slow  # every stage of a tiny pipeline twice in a fresh clone (dvc exp run -f)
def test_pipeline_precision_runs_the_params_set(tmp_path: Path, tiny_params: Params) -> None:
    output = run("pipeline.py", "--precision", *tiny_pipeline(tmp_path, tiny_params), cwd=tmp_path)
    assert "data.image_size 32, " in parameters(output)
    # the runs read --set's values, not the committed ones (the flag once returned before --set)
    ran = locked(output)
    assert "data.image_size 32, data.framing whole, " in ran
    assert (
        "train.recipe transfer, train.epochs 1, train.fine_tune_epochs 1, train.batch_size 8, "
        in ran
    )
    assert "train.mixed_precision auto, train.deterministic False" in ran  # the last of the two
    seconds = {
        setting: figures(rf"^{setting}\s+{NUMBER}$", output)[0] for setting in ("float32", "auto")
    }
    assert min(seconds.values()) > 0
    assert re.search(r"^auto trained under (float32|mixed_bfloat16);", output, re.MULTILINE)


@pytest.mark.slow  # two tiny experiments in a fresh clone, the second of two sources
def test_sources_scores_the_archive_alone_against_archive_and_utkface(
    tmp_path: Path, tiny_params: Params
) -> None:
    args = tiny_pipeline(tmp_path, tiny_params)
    utkface = write_utkface(tmp_path / "utk", [(30, g, r) for g in (0, 1) for r in (0, 1)], 15)
    archive = args[args.index("--sample") + 1]
    args = [arg for arg in args if arg not in ("--sample", archive)]
    output = run(
        "sources.py", "--archive", archive, "--utkface", str(utkface), "--rate-seconds", "0",
        *args, "--set", "data.image_size=40", cwd=tmp_path,
    )  # fmt: skip
    assert "data.image_size 40, " in parameters(output)
    assert "train.balance [], train.class_weights balanced, " in parameters(output)
    for name in ("archive-only", "sources"):
        assert figures(rf"^{name}: {NUMBER} min end to end$", output)[0] > 0
    # the rate at the goal's reference size, then at the runs' own
    rates = re.findall(r"^\s+(\d+)\s+[\d.]+\s+([\d.]+)x", output, re.MULTILINE)
    assert [size for size, _ratio in rates] == ["32", "40"] and rates[0][1] == "1.00", output
    # The archive's test images are the same in both runs: every one of them is paired, and the
    # sources run's UTKFace test images are its only extra ones.
    left_out = figures(rf"; {NUMBER} of A's and {NUMBER} of B's were left out\.$", output)
    assert left_out[0] == 0 and left_out[1] > 0
    # UTKFace joined the second run only: race groups exist there, as generated
    races = re.search(r"^\| utkface test worst race's .+ \| (.+) \| (.+) \|$", output, re.M)
    assert races and races[1] == "-" and races[2].split()[0] in ("White", "Black"), output
    table = output[output.index("sources: test split by race") :]
    assert sorted(re.findall(r"^\| (\w+) \| \d+ \| 0\.", table, re.M)) == ["Black", "White"]


@pytest.mark.slow  # starts `genderface predict` eight times, four of them with TensorFlow
def test_predict_benchmark_times_both_paths_at_a_tiny_size():
    sample = require_sample()
    command = [sys.executable, str(REPO / "benchmarks" / "predict.py"), "--sample", str(sample)]
    tiny = ["--images", "6", "--runs", "1", "--image-size", "48"]
    run = subprocess.run([*command, *tiny], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    output = run.stdout
    # --image-size reached the model built; 6 images extracted, and each path labelled all 6
    assert "model input 48 px, images 6, one-image runs 1, rounds 1" in parameters(output)
    one = r"^    Keras \(\.keras\) [\d.]+ s, LiteRT \(\.tflite\) [\d.]+ s: Keras/LiteRT [\d.]+x$"
    assert re.search(one, output, re.MULTILINE), output
    rate = r"[\d.]+ img/s \([\d.]+ s\)"
    folder = rf"Keras {rate}, LiteRT {rate}: LiteRT/Keras [\d.]+x; same label 6/6"
    for kind in ("whole image", "--crop-face"):
        assert re.search(rf"^    {re.escape(kind)}: {folder}$", output, re.MULTILINE), output


def test_train_step_prints_the_rate_per_size(tmp_path: Path) -> None:
    output = run(
        "train_step.py", "--sizes", "32", "48", "--seconds", "0", "--train-images", "1000000",
        "--set", "train.batch_size=4", "--set", "model.head_units=8", "--set", "train.epochs=5",
        cwd=tmp_path,
    )  # fmt: skip
    given = parameters(output)
    assert "head units 8, batch 4, dtype policy float32, sizes [32, 48]" in given
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

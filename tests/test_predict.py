import csv
import importlib.metadata
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genderface.commands.cli import app
from genderface.commands.predict import (
    Inputs,
    Labeller,
    Prediction,
    expand_inputs,
    predict_paths,
    skipped_line,
)
from genderface.data.images import load_rgb
from genderface.evaluation.files import Failure
from genderface.modeling.forward import forward_pass
from genderface.modeling.model_file import Classifier, load_classifier

from .conftest import LIGHT_INSTALL, image_bytes, normalised, pins

runner = CliRunner()


def labeller(classifier: Classifier) -> Labeller:
    return Labeller(forward_pass(classifier.model), classifier.image_size, classifier.info)


@pytest.fixture
def images(tmp_path) -> dict[str, Path]:
    paths = {
        "jpeg": tmp_path / "face.jpg",
        "png_named_jpg": tmp_path / "png_inside.jpg",
        "text": tmp_path / "notes.jpg",
    }
    paths["jpeg"].write_bytes(image_bytes((180, 140, 120), "JPEG", 80))
    paths["png_named_jpg"].write_bytes(image_bytes((90, 70, 60), "PNG", 50))
    paths["text"].write_text("not an image")
    return paths


def test_predict_paths_keeps_order_and_reports_failures(trained_model, images):
    classifier = load_classifier(trained_model)
    order = [images["jpeg"], images["text"], images["png_named_jpg"]]
    results = list(predict_paths(labeller(classifier), order, batch_size=2))
    assert [r.path for r in results] == [str(p) for p in order]
    assert isinstance(results[1], Failure)
    assert "not an image" in results[1].reason
    for result, path in ((results[0], order[0]), (results[2], order[2])):
        assert isinstance(result, Prediction)
        pixels = load_rgb(path, classifier.image_size)[None].astype("float32")
        woman = float(classifier.model.predict(pixels, verbose=0)[0, 0])
        expected = "woman" if woman >= classifier.threshold else "man"
        assert (result.label, result.positive) == (expected, "woman")
        assert (result.probability, result.threshold) == (
            pytest.approx(woman),
            classifier.threshold,
        )


def test_threshold_decides_the_label(trained_model, images):
    classifier = load_classifier(trained_model)
    always_woman = next(iter(predict_paths(labeller(classifier), [images["jpeg"]], threshold=0.0)))
    always_man = next(iter(predict_paths(labeller(classifier), [images["jpeg"]], threshold=1.0)))
    assert (always_woman.label, always_man.label) == ("woman", "man")


def test_cli_table_has_a_header_and_aligned_rows(trained_model, images):
    args = ["predict", "--whole-image", "--model", str(trained_model)]
    result = runner.invoke(app, [*args, str(images["jpeg"]), str(images["jpeg"])])
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["path", "label", "p_woman", "threshold"]
    assert len(rows) == 2
    path, label, probability, threshold = rows[0].split()
    assert path == str(images["jpeg"])
    assert float(threshold) == pytest.approx(load_classifier(trained_model).threshold, abs=1e-4)
    # the label follows from the two numbers beside it, whatever the threshold
    assert label == ("woman" if float(probability) >= float(threshold) else "man")
    assert header.index("label") == rows[0].index(label)


def test_cli_json_lines_and_csv_carry_the_same_predictions(trained_model, images):
    args = ["predict", "--whole-image", "--model", str(trained_model), str(images["png_named_jpg"])]
    as_json = runner.invoke(app, [*args, str(images["jpeg"]), "--format", "json"])
    as_csv = runner.invoke(app, [*args, str(images["jpeg"]), "--format", "csv"])
    assert as_json.exit_code == as_csv.exit_code == 0, as_json.output + as_csv.output
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [list(r) for r in records] == [["path", "label", "p_woman", "threshold"]] * 2
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["path"] for r in rows] == [r["path"] for r in records]
    assert [r["label"] for r in rows] == [r["label"] for r in records]
    for row, record in zip(rows, records, strict=True):
        assert float(row["p_woman"]) == record["p_woman"]  # full precision in both
        assert float(row["threshold"]) == record["threshold"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [("text", "not an image (unrecognised format)"), ("missing", "no such file")],
)
def test_cli_bad_file_is_one_line_naming_it_and_exit_1(
    trained_model, images, tmp_path, name, reason
):
    bad = images.get(name, tmp_path / "missing.jpg")
    result = runner.invoke(
        app, ["predict", "--model", str(trained_model), str(images["jpeg"]), str(bad)]
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"error: {bad}: {reason}"]
    assert len(result.stdout.splitlines()) == 2  # the header and the good image


def test_console_script_errors_are_exactly_one_line(trained_model, images):
    """The installed `genderface` command in a clean environment: no TensorFlow start-up noise.
    (A missing or broken model: tests/test_faults.py.)"""
    exe = Path(sys.executable).with_name("genderface")
    files = [str(images["jpeg"]), str(images["text"])]
    run = subprocess.run(
        [str(exe), "predict", "--model", str(trained_model), *files],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("TF_")},
    )
    assert run.returncode == 1
    assert run.stdout.splitlines()[1].startswith(f"{images['jpeg']} ")
    assert run.stderr.splitlines() == [
        f"error: {images['text']}: not an image (unrecognised format)"
    ]


def test_cli_on_real_images_from_the_sample(trained_model, sample_zip, tmp_path):
    """Real archive files, one of them PNG data under a .jpg name, through the command line."""
    import zipfile

    with zipfile.ZipFile(sample_zip) as zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".jpg"))
        png = next(n for n in names if zf.read(n).startswith(b"\x89PNG"))
        jpeg = next(n for n in names if zf.read(n).startswith(b"\xff\xd8"))
        paths = [Path(zf.extract(name, tmp_path)) for name in (png, jpeg)]
    args = ["predict", "--format", "csv", "--model", str(trained_model), *map(str, paths)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))[1:]
    assert [row[0] for row in rows] == [str(p) for p in paths]
    assert all(row[4].startswith("found 0.") for row in rows), "framed as the model: its face"
    assert all(row[1] in {"man", "woman"} and 0 <= float(row[2]) <= 1 for row in rows)
    assert all(row[1] == ("woman" if float(row[2]) >= float(row[3]) else "man") for row in rows)


def test_folders_are_searched_recursively_and_sorted_and_globs_expanded(tmp_path):
    for name in ("b/2.jpg", "b/1.PNG", "a.jpg", "b/c/3.txt", "b/README.md", "b/.hidden.jpg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    single = tmp_path / "a.jpg"
    inputs = expand_inputs([str(single), str(tmp_path / "b"), str(tmp_path / "**" / "*.jpg")])
    relative = [p.relative_to(tmp_path).as_posix() for p in inputs.files]
    assert relative == ["a.jpg", "b/1.PNG", "b/2.jpg", "a.jpg", "b/2.jpg"]
    assert inputs.skipped == [tmp_path / "b/README.md", tmp_path / "b/c/3.txt"]
    assert expand_inputs([str(tmp_path / "*.gif")]).files == [tmp_path / "*.gif"]
    # named on the command line or matched by a pattern: kept, whatever the name
    named = expand_inputs([str(tmp_path / "b/c/3.txt"), str(tmp_path / "b/*.md")])
    assert named == Inputs([tmp_path / "b/c/3.txt", tmp_path / "b/README.md"], [])


def test_the_skipped_line_counts_and_names_the_first_few():
    assert skipped_line([Path("f/README.md")]) == (
        "skipped 1 file not named as an image in the folders given (f/README.md)"
    )
    many = [Path(f"f/{i}.txt") for i in range(5)]
    assert skipped_line(many) == (
        "skipped 5 files not named as an image in the folders given "
        "(f/0.txt, f/1.txt, f/2.txt, ...)"
    )


def test_cli_labels_a_folder_in_batches_skips_its_other_files_and_reports_a_broken_image(
    trained_model, tmp_path
):
    folder = tmp_path / "batch"
    for i in range(7):
        sub = folder / ("nested" if i % 2 else "")
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"img_{i}.jpg").write_bytes(image_bytes((30 * i, 100, 200 - 20 * i), "JPEG", 48))
    (folder / "nested" / "readme.txt").write_text("not an image")
    (folder / "attributes.csv").write_text("file,age\n")
    broken = folder / "nested" / "broken.jpg"
    broken.write_text("not an image")  # named as an image: an error, not skipped
    args = ["predict", "--whole-image", "--model", str(trained_model), "--format", "json"]
    result = runner.invoke(app, [*args, "--batch-size", "3", str(folder)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "skipped 2 files not named as an image in the folders given "
        f"({folder / 'attributes.csv'}, {folder / 'nested' / 'readme.txt'})",
        f"error: {broken}: not an image (unrecognised format)",
    ]
    records = [json.loads(line) for line in result.stdout.splitlines()]
    expected = sorted(p for p in folder.rglob("img_*.jpg"))
    assert [r["path"] for r in records] == [str(p) for p in expected]
    classifier = load_classifier(trained_model)
    one_by_one = [next(predict_paths(labeller(classifier), [Path(r["path"])])) for r in records]
    for record, single in zip(records, one_by_one, strict=True):
        assert record["label"] == single.label
        assert record["p_woman"] == pytest.approx(single.probability, abs=1e-5)


def test_predict_on_fairface_540_as_it_comes_labels_its_images_only(
    exported_model, fairface, tmp_path
):
    """The real folder's own layout: README.md and attributes.csv beside the class folders. A
    few of its images keep the run short; its two other files are skipped, and the exit is 0."""
    folder = tmp_path / "fairface-540"
    for name in ("README.md", "attributes.csv"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(fairface / name, folder / name)
    for cls in ("man", "woman"):
        (folder / cls).mkdir()
        for image in sorted((fairface / cls).iterdir())[:2]:
            shutil.copy(image, folder / cls / image.name)
    args = ["predict", "--model", str(exported_model), "--format", "csv", str(folder)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "skipped 2 files not named as an image in the folders given "
        f"({folder / 'README.md'}, {folder / 'attributes.csv'})"
    ]
    rows = list(csv.reader(io.StringIO(result.stdout)))[1:]
    assert [Path(row[0]).parent.name for row in rows] == ["man", "man", "woman", "woman"]


def test_a_non_image_named_on_the_command_line_stays_an_error(trained_model, tmp_path):
    notes = tmp_path / "README.md"
    notes.write_text("# not an image")
    result = runner.invoke(app, ["predict", "--model", str(trained_model), str(notes)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"error: {notes}: not an image (unrecognised format)"]


def test_verbose_sets_the_traceback_switch(trained_model, images, monkeypatch):
    # set, then removed: monkeypatch then undoes what the CLI sets, and later tests see no switch
    monkeypatch.setenv("GENDERFACE_VERBOSE", "")
    monkeypatch.delenv("GENDERFACE_VERBOSE")
    args = ["predict", "--model", str(trained_model), str(images["jpeg"])]
    assert runner.invoke(app, args).exit_code == 0
    assert "GENDERFACE_VERBOSE" not in os.environ
    assert runner.invoke(app, ["--verbose", *args]).exit_code == 0
    assert os.environ["GENDERFACE_VERBOSE"] == "1"


def test_the_default_model_is_the_exported_one(exported_model, images, tmp_path, monkeypatch):
    """Without --model, predict runs models/model.tflite (the export stage's) on LiteRT."""
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    for name in ("model.tflite", "model.json"):
        shutil.copy(exported_model.with_name(name), project / "models" / name)
    image = str(images["jpeg"])
    explicit = runner.invoke(
        app, ["predict", "--format", "json", "--model", str(exported_model), image]
    )
    monkeypatch.chdir(project)
    default = runner.invoke(app, ["predict", "--format", "json", image])
    assert default.exit_code == explicit.exit_code == 0, default.output + explicit.output
    assert default.stdout == explicit.stdout
    (project / "models" / "model.tflite").unlink()
    missing = runner.invoke(app, ["predict", image])
    assert missing.exit_code == 1
    assert missing.stderr.splitlines() == [
        "error: models/model.tflite: model file not found; run `dvc repro` first"
    ]


def test_a_model_file_of_another_kind_is_one_line(images, tmp_path):
    model = tmp_path / "model.h5"
    model.write_bytes(b"weights")
    result = runner.invoke(app, ["predict", "--model", str(model), str(images["jpeg"])])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: {model}: not a model file (expected .tflite or .keras); the pipeline writes "
        "models/model.tflite and models/model.keras"
    ]


def _beyond_the_light_install(modules: set[str]) -> set[str]:
    """The top-level modules that no package of requirements-predict.txt provides: neither
    genderface itself nor what every venv holds (pip, setuptools) counts."""
    light = set(pins(LIGHT_INSTALL)) | {"genderface", "pip", "setuptools"}
    providers = importlib.metadata.packages_distributions()
    return {
        module
        for module in modules & set(providers)
        if not {normalised(name) for name in providers[module]} & light
    }


def _modules_after_predict(*args: str, exit_code: int = 0) -> tuple[str, set[str]]:
    """Run `genderface predict ARGS` in a fresh interpreter, through the console script's own
    entry point, expecting exit_code; its stdout and the top-level modules loaded by then."""
    code = (
        "import json, sys\n"
        "from genderface.commands.cli import app\n"
        "try:\n"
        f"    app({['predict', *args]!r})\n"
        "except SystemExit as done:\n"
        f"    assert (done.code or 0) == {exit_code}, done.code\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    *output, modules = run.stdout.splitlines()
    return "\n".join(output), set(json.loads(modules))


def test_predict_on_the_exported_model_imports_no_tensorflow_keras_or_dvc(
    exported_model, trained_model, images
):
    image = str(images["jpeg"])
    for crop in ([], ["--crop-face"]):
        output, modules = _modules_after_predict("--model", str(exported_model), *crop, image)
        assert output.splitlines()[1].startswith(f"{image} ")  # it did label the image
        assert "ai_edge_litert" in modules
        assert not _beyond_the_light_install(modules), _beyond_the_light_install(modules)
    # the probe sees TensorFlow when it is there: the .keras model still goes through Keras
    _, modules = _modules_after_predict("--model", str(trained_model), image)
    assert {"tensorflow", "keras"} <= _beyond_the_light_install(modules)


def test_a_missing_keras_model_or_sidecar_fails_before_tensorflow_starts(
    trained_model, images, tmp_path
):
    alone = tmp_path / "model.keras"
    shutil.copy(trained_model, alone)  # no model.json beside it
    for model in (tmp_path / "missing.keras", alone):
        _, modules = _modules_after_predict("--model", str(model), str(images["jpeg"]), exit_code=1)
        assert not {"tensorflow", "keras"} & modules, model

"""One inference path: every caller scores images through modeling/forward.py's forward pass."""

import ast
import json
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np

from genderface.commands.predict import load_labeller, predict_paths
from genderface.data.faces import load_framed
from genderface.data.framing import Framing
from genderface.data.shards import ShardInfo
from genderface.evaluation.external import evaluate_folder
from genderface.evaluation.files import Failure, Scored, score_files, whole_image
from genderface.evaluation.scoring import Scoring
from genderface.modeling.forward import forward_pass
from genderface.modeling.model_file import load_classifier

from .conftest import PARITY_TOLERANCE, REPO, evaluate_params, image_bytes

PREDICT_METHODS = {"predict", "predict_on_batch", "predict_step"}


def _model_calls(source: str) -> int:
    """Calls of a model (`model(...)`, `x.model(...)`) or of its predict methods."""
    count = 0
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            count += name == "model" or name in PREDICT_METHODS
    return count


def test_the_model_is_called_for_inference_in_one_place():
    package = REPO / "src" / "genderface"
    calls = {
        path.relative_to(package).as_posix(): _model_calls(path.read_text())
        for path in package.rglob("*.py")
    }
    assert "evaluation/evaluate.py" in calls, "sub-packages are searched"
    assert {name: n for name, n in calls.items() if n} == {"modeling/forward.py": 1}
    assert _model_calls("classifier.model.predict(x)\nmodel(x)") == 2  # the check can fail


def _folder(root: Path) -> Path:
    for label, color in (("man", (40, 60, 200)), ("woman", (200, 80, 40))):
        (root / label).mkdir(parents=True)
        for i in range(5):
            shade = (color[0] + 9 * i, color[1], color[2] - 5 * i)
            fmt = "PNG" if i % 2 else "JPEG"
            (root / label / f"{i}.jpg").write_bytes(image_bytes(shade, fmt, 40 + 7 * i))
    (root / "woman" / "broken.jpg").write_text("not an image")
    return root


def test_external_evaluation_and_predict_give_bit_identical_probabilities(trained_model, tmp_path):
    """The same files through evaluate.external (in process) and through the installed
    `genderface predict` (a new process), at the same batch size: the same float32 bits."""
    folder = _folder(tmp_path / "external")
    classifier = load_classifier(trained_model)
    info = ShardInfo(classifier.image_size, classifier.classes, {"train": {"man": 2, "woman": 1}})
    scoring = Scoring.of(classifier, info, evaluate_params())
    forward = forward_pass(classifier.model)
    evaluated = evaluate_folder(forward, 32, folder, scoring, batch_size=4).evaluation
    exe = Path(sys.executable).with_name("genderface")
    command = [str(exe), "predict", "--model", str(trained_model), "--format", "json"]
    run = subprocess.run(
        [*command, "--whole-image", "--batch-size", "4", str(folder)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1  # the broken file
    predicted = {
        Path(r["path"]).relative_to(folder).as_posix(): r["p_woman"]
        for r in map(json.loads, run.stdout.splitlines())
    }
    assert sorted(predicted) == sorted(evaluated.files)
    by_file = dict(zip(evaluated.files, evaluated.y_prob.tolist(), strict=True))
    assert predicted == by_file  # exact equality, not approx
    assert len(set(by_file.values())) > 1


def test_score_files_keeps_order_across_batches_with_failures(trained_model, tmp_path):
    folder = _folder(tmp_path / "images")
    classifier = load_classifier(trained_model)
    paths = sorted(folder.rglob("*"))
    paths = [p for p in paths if p.is_file()]
    forward, size = forward_pass(classifier.model), classifier.image_size
    together = list(score_files(forward, paths, size, batch_size=3))
    assert [r.path for r in together] == [str(p) for p in paths]
    assert [type(r) for r in together].count(Failure) == 1
    only_the_broken = list(score_files(forward, [folder / "woman" / "broken.jpg"], size))
    assert isinstance(only_the_broken[0], Failure)
    alone = [next(score_files(forward, [Path(r.path)], size)) for r in together]
    for batched, single in zip(together, alone, strict=True):
        if isinstance(batched, Scored):
            assert np.isclose(batched.probability, single.probability, atol=1e-5)


def test_litert_and_keras_label_the_same_files_the_same_way(
    trained_model, exported_model, fairface, tmp_path
):
    """predict's two paths (models/model.tflite on LiteRT, the default; model.keras on Keras,
    as evaluate.external scores files) on the same files, whole and through the face crop: the
    same labels, and probabilities within the export stage's parity tolerance."""
    folder = _folder(tmp_path / "images")
    faces = (
        sorted((fairface / "woman").glob("*.jpg"))[:2]
        + sorted((fairface / "man").glob("*.jpg"))[:2]
    )
    paths = sorted(p for p in folder.rglob("*") if p.is_file()) + faces
    for loader in (whole_image, partial(load_framed, framing=Framing("face", 0.2))):
        keras_results, lite_results = (
            list(predict_paths(load_labeller(model), paths, batch_size=4, loader=loader))
            for model in (trained_model, exported_model)
        )
        assert [type(r) for r in lite_results] == [type(r) for r in keras_results]
        labelled = [
            (k, lite)
            for k, lite in zip(keras_results, lite_results, strict=True)
            if not isinstance(k, Failure)
        ]
        assert len(labelled) == 14
        for k, lite in labelled:
            assert (lite.path, lite.label, lite.face) == (k.path, k.label, k.face)
            if k.probability is not None:  # None: no face found, by both paths alike
                assert abs(lite.probability - k.probability) <= PARITY_TOLERANCE
        probabilities = {k.probability for k, _ in labelled if k.probability is not None}
        assert len(probabilities) > 1, "real probabilities compared, whole and on faces"

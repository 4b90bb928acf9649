"""One inference path: every caller scores images through inference.outputs."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from genderface.external import evaluate_folder
from genderface.inference import Failure, Scored, score_files
from genderface.model import load_classifier
from genderface.shards import ShardInfo

from .conftest import REPO, evaluate_params, image_bytes

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
    calls = {
        path.name: _model_calls(path.read_text())
        for path in (REPO / "src" / "genderface").glob("*.py")
    }
    assert {name: n for name, n in calls.items() if n} == {"inference.py": 1}
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
    evaluated, _ = evaluate_folder(classifier, folder, info, evaluate_params(batch_size=4))
    exe = Path(sys.executable).with_name("genderface")
    command = [str(exe), "predict", "--model", str(trained_model), "--format", "json"]
    run = subprocess.run(
        [*command, "--batch-size", "4", str(folder)], capture_output=True, text=True
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
    together = list(score_files(classifier, paths, batch_size=3))
    assert [r.path for r in together] == [str(p) for p in paths]
    assert [type(r) for r in together].count(Failure) == 1
    only_the_broken = list(score_files(classifier, [folder / "woman" / "broken.jpg"]))
    assert isinstance(only_the_broken[0], Failure)
    alone = [next(score_files(classifier, [Path(r.path)])) for r in together]
    for batched, single in zip(together, alone, strict=True):
        if isinstance(batched, Scored):
            assert np.isclose(batched.probability, single.probability, atol=1e-5)

import re

import numpy as np

from genderface.data.framing import Framing
from genderface.data.shards import ShardInfo
from genderface.evaluation.evaluate import Report
from genderface.evaluation.external import External
from genderface.evaluation.groups import GroupScores, group_scores
from genderface.evaluation.metrics import compute_metrics
from genderface.evaluation.model_card import render
from genderface.evaluation.scoring import Evaluation
from genderface.layout import SPLITS
from genderface.modeling.model_info import ModelInfo
from genderface.stats import bootstrap_bounds

CLASSES = ["man", "woman"]
INFO = ShardInfo(
    image_size=64,
    classes=CLASSES,
    counts={
        "train": {"man": 70, "woman": 30},
        "test": {"man": 6, "woman": 4},
        "validation": {"man": 7, "woman": 3},
    },
)
WHOLE = ModelInfo(CLASSES, 0.42, Framing("whole", 0.2))
FACE = Framing("face", 0.3)


def _evaluation(threshold: float = 0.42) -> Evaluation:
    y_true = np.array([0] * 6 + [1] * 4)
    y_prob = np.array([0.1, 0.2, 0.3, 0.5, 0.6, 0.2, 0.9, 0.8, 0.4, 0.7])
    scores = compute_metrics(y_true, y_prob, threshold, CLASSES, majority=0, bins=10)
    for metric, (low, high) in bootstrap_bounds(y_true, y_prob, threshold, 200, seed=0).items():
        scores[f"{metric}_ci"] = {"low": low, "high": high}
    files = [f"{i}.jpg" for i in range(10)]
    return Evaluation(scores, CLASSES, threshold, files, files, y_true, y_prob, bins=10)


def _source(
    origin: str, licence: str, labels: str, usable: dict[str, int], splits: tuple[int, int, int]
) -> dict:
    """One source of metrics/data.json, as the split stage writes it: `splits` its images in
    train, test and validation (all counted as man: the card shows totals)."""
    files = sum(usable.values())
    return {
        "source": origin,
        "resolved": origin,
        "synthetic": origin == "demo",
        "licence": licence,
        "labels": labels,
        "files": files,
        "usable": files,
        "usable_classes": usable,
        "splits": {split: {"man": n} for split, n in zip(SPLITS, splits, strict=True)},
    }


ARCHIVE = _source("faces.zip", "CC0-1.0", "folders", {"man": 40, "woman": 18}, (40, 9, 8))
UTKFACE = _source(
    "/data/UTKFace", "non-commercial research only", "utkface", {"man": 9, "woman": 8}, (11, 3, 2)
)
DATA = {"sources": {"archive": ARCHIVE, "utkface": UTKFACE}}


def _test_groups(test: Evaluation) -> GroupScores:
    """The test split's 10 images: 5 from the archive (no age), 5 from UTKFace with ages."""
    predictions = test.predictions()
    predictions["source"] = ["archive"] * 5 + ["utkface"] * 5
    predictions["age"] = [""] * 5 + ["20-29"] * 4 + ["70+"]
    return group_scores(predictions, ["source", "age"], CLASSES, min_group=3)


def sample_report(
    model: ModelInfo = WHOLE, external: External | None = None, info: ShardInfo = INFO
) -> Report:
    """A report on 10 test images from two sources (the archive without ages), each also
    scored alone (DATA has their sources)."""
    test = _evaluation()
    sources = {"archive": _evaluation(), "utkface": _evaluation(threshold=0.65)}
    groups = _test_groups(test)
    return Report(info, test, groups, sources, [], external, model)


def _render(report: Report, data: dict = DATA, export: dict | None = None) -> str:
    """The card with table cells' padding folded, so tests read its content, not its layout."""
    return re.sub(r" {2,}", " ", render(report, data, export))


def test_card_states_data_scores_threshold_and_limits():
    report = sample_report()
    test = report.test
    card = _render(report)
    assert "| train | 70 | 30 | 100 | 70.0% |" in card
    assert "| test | 6 | 4 | 10 | 60.0% |" in card
    assert "SYNTHETIC" not in card
    assert "The decision threshold, 0.4200, was chosen on the validation split" in card
    assert (
        f"| balanced accuracy (mean of per-class recall) | {test.scores['balanced_accuracy']:.3f} |"
        in card
    )
    assert "| majority baseline (always the training majority) | 0.600 |" in card
    assert f"| expected calibration error | {test.scores['ece']:.3f} |" in card
    woman = test.scores["woman"]
    assert f"| woman | {woman['precision']:.3f} | {woman['recall']:.3f} |" in card
    assert "over-represents `man` (70.0% of training images)" in card
    assert "taken from the dataset's folder names" in card
    assert "**Not for decisions about people**" in card
    assert "External" not in card
    ci = test.scores["accuracy_ci"]
    assert (
        f"| accuracy | {test.scores['accuracy']:.3f} | {ci['low']:.3f} - {ci['high']:.3f} |" in card
    )
    assert "| log loss |" in card and "Performance by group" not in card


def test_card_lists_every_training_source_with_its_licence_and_counts():
    card = _render(sample_report())
    assert (
        "| source | from | labels | licence | usable man | usable woman | train | test | "
        "validation |"
    ) in card
    assert "| `archive` | `faces.zip` | folders | CC0-1.0 | 40 | 18 | 40 | 9 | 8 |" in card
    assert (
        "| `utkface` | `/data/UTKFace` | utkface | non-commercial research only | 9 | 8 | 11 | 3 "
        "| 2 |"
    ) in card
    assert "bound by each training source's licence" in card
    demo_source = _source("demo", "synthetic", "folders", {"man": 5, "woman": 4}, (5, 2, 1))
    card = _render(sample_report(), {"sources": {"demo": demo_source}})
    assert "| `demo` | `demo` (SYNTHETIC) | folders | synthetic | 5 | 4 | 5 | 2 | 1 |" in card
    assert "`demo` is **SYNTHETIC demo images**: scores on it say nothing about real faces." in card


def test_card_scores_each_source_alone_and_the_test_split_by_group():
    report = sample_report()
    card = _render(report)
    utkface = report.sources["utkface"].scores
    ci = utkface["balanced_accuracy_ci"]
    balanced = f"{utkface['balanced_accuracy']:.3f} ({ci['low']:.3f} - {ci['high']:.3f})"
    assert f"| `utkface` | 10 | {utkface['accuracy']:.3f} (" in card
    assert balanced in card
    assert "## Test split by group" in card
    assert "### Per source" in card and "### By source" in card and "### By age" in card
    table = report.groups.table.set_index(["attribute", "group"])
    young = table.loc[("age", "20-29")]  # man right; 2 of 3 women right (0.4 < 0.42 wrong)
    assert young["balanced_accuracy"] == (1 + 2 / 3) / 2
    shown = (
        f"{young['balanced_accuracy']:.3f} "
        f"({young['balanced_accuracy_low']:.3f} - {young['balanced_accuracy_high']:.3f})"
    )
    assert f"| 20-29 | 4 | {young['accuracy']:.3f} (" in card
    assert f") | {shown} |" in card
    assert "| 70+ | 1 | 1.000 (0.207 - 1.000) | - |" in card  # one woman: no balanced accuracy
    assert "5 test images have no age (their source does not give it) and are left out" in card
    assert "test images have no source" not in card  # every image has a source


def test_card_reports_the_external_folder_separately():
    evaluation = _evaluation()
    evaluation.scores["skipped"] = 2
    external = External(evaluation, "other/faces", groups=None)
    card = _render(sample_report(external=external))
    assert "## External folder `other/faces` (10 images, 2 unreadable skipped)" in card
    assert card.count("\n| accuracy |") == 2  # the test split's and the external folder's rows
    assert "largest face" not in card


def test_card_shows_face_crops_and_performance_by_group():
    evaluation = _evaluation()
    evaluation.scores["skipped"] = 0
    predictions = evaluation.predictions()
    predictions["age"] = ["0-2"] * 4 + ["20-29"] * 5 + ["70+"]
    groups = group_scores(predictions, ["age"], CLASSES, min_group=3)
    evaluation.scores["no_face"] = 3
    external = External(evaluation, "fairface", groups=groups)
    card = _render(sample_report(external=external))
    assert "3 had no face found and are left out of these scores" in card
    assert "## Performance by group" in card
    external_part = card[card.index("## Performance by group") :]
    assert "### By age" in external_part
    row = groups.table.set_index("group").loc["20-29"]
    accuracy = f"{row['accuracy']:.3f} ({row['accuracy_low']:.3f} - {row['accuracy_high']:.3f})"
    assert f"| 20-29 | 5 | {accuracy} |" in external_part
    assert "| 70+ | 1 |" in external_part and "fewer than 3: not compared" in external_part
    gap = groups.gaps["age"]["accuracy"]
    assert f"accuracy {gap['gap']:.3f} ({gap['max']} against {gap['min']})" in external_part
    assert "left out of this table" not in external_part  # every listed image has an age


def test_card_states_what_made_the_model():
    provenance = {
        "versions": {"dvc": "3.1", "keras": "3.2", "python": "3.12.1", "tensorflow": "2.3"},
        "devices": {"kind": "GPU", "count": 2, "cpu_kernels": "this CPU's best: X, 8 cores"},
        "recipe": "transfer",
        "mixed_precision": "mixed_float16",
        "xla": True,
        "deterministic": False,
    }
    card = _render(sample_report(ModelInfo(CLASSES, 0.42, FACE, provenance)))
    assert "## How it was made" in card
    for row in (
        "| tensorflow version | 2.3 |",
        "| keras version | 3.2 |",
        "| dvc version | 3.1 |",
        "| devices | 2 x GPU |",
        "| recipe (train.recipe) | transfer |",
        "| mixed precision (dtype policy) | mixed_float16 |",
        "| XLA (jit_compile) | on |",
        "| CPU kernels | this CPU's best: X, 8 cores |",
        "| deterministic (op determinism, pinned kernels) | off |",
    ):
        assert row in card
    assert "\n\n\n" not in render(sample_report(ModelInfo(CLASSES, 0.42, FACE, provenance)), DATA)
    assert "How it was made" not in _render(sample_report())


def test_card_states_the_framing_the_model_expects_and_the_no_face_counts():
    whole = _render(sample_report())
    assert (
        "**Framing**: it expects the whole picture, resized to a square (`data.framing: whole`)"
        in whole
    )
    assert "no face found" not in whole
    no_face = {split: {"man": n, "woman": n + 1} for split, n in (("train", 4), ("test", 0))}
    framed = ShardInfo(INFO.image_size, CLASSES, INFO.counts, FACE, no_face | {"validation": {}})
    card = _render(sample_report(ModelInfo(CLASSES, 0.42, FACE), info=framed))
    assert f"**Framing**: it expects {FACE.describe()} (`data.framing: face`, " in card
    assert "`data.face_margin: 0.3`" in card
    assert "A picture in which no face is found gets no label from predict." in card
    assert "| split | man: no face found | woman: no face found |" in card
    assert "| train | 4 | 5 |" in card and "| test | 0 | 1 |" in card
    assert "| validation | 0 | 0 |" in card


EXPORT = {
    "file": "models/model.tflite",
    "bytes": 59_395_232,
    "split": "validation",
    "images": 294,
    "threshold": 0.42,
    "parity": {"max_abs_difference_within": 0.0001, "labels_changed": 0},
}


def test_card_lists_the_exported_files_and_their_check():
    card = _render(sample_report(), DATA, EXPORT)
    assert "## Exported model" in card
    assert "`genderface predict` runs `models/model.tflite` on LiteRT" in card
    assert "scored both on the 294 validation images" in card
    assert "| `models/model.tflite` | 59.4 MB | within 0.0001 | 0 | - |" in card
    assert "smaller model" not in card
    interval = {"estimate": 0.75, "low": 0.7, "high": 0.8}
    quantized = {
        "quantize": "dynamic",
        "file": "models/quantized/model-dynamic.tflite",
        "bytes": 14_924_712,
        "parity": {"max_abs_difference": 0.0046, "labels_changed": 3},
        "agreement": 0.9898,
        "balanced_accuracy": interval,
        "float_balanced_accuracy": {**interval, "estimate": 0.76},
        "balanced_accuracy_difference": {"estimate": -0.01, "low": -0.02, "high": 0.0, "p": 0.2},
    }
    card = _render(sample_report(), DATA, EXPORT | {"quantized": quantized})
    assert "(`export.quantize: dynamic`) labels 99.0% of them as the float model does" in card
    assert (
        "| `models/quantized/model-dynamic.tflite` (dynamic) | 14.9 MB | 0.0046 | 3 | "
        "0.750 (0.700 - 0.800) against 0.760 (0.700 - 0.800) |"
    ) in card
    assert "Exported model" not in _render(sample_report())

import json
import logging

import numpy as np
import pytest
from dvclive import Live
from PIL import Image
from sklearn.calibration import calibration_curve
from sklearn.metrics import balanced_accuracy_score as skm_balanced

from genderface.errors import GenderfaceError
from genderface.evaluation import (
    Evaluation,
    compute_metrics,
    evaluate,
    expected_calibration_error,
    log_evaluation,
)
from genderface.images import load_rgb
from genderface.input_pipeline import ShardInfo, batched, load_split
from genderface.model import load_classifier
from genderface.report import (
    collect_mistakes,
    evaluate_folder,
    mistakes_figure,
    most_confident_mistakes,
    save_png,
)

from .conftest import image_bytes

CLASSES = ["man", "woman"]


def test_metrics_on_known_predictions():
    y_true = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    y_prob = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.2, 0.9, 0.8, 0.4, 0.7])
    scores = compute_metrics(y_true, y_prob, 0.5, CLASSES, majority=0, bins=10)
    assert scores["images"] == 10
    assert scores["accuracy"] == pytest.approx(0.8)
    assert scores["balanced_accuracy"] == pytest.approx((5 / 6 + 3 / 4) / 2)
    assert scores["baseline_accuracy"] == pytest.approx(0.6)
    assert scores["man"] == pytest.approx(
        {"precision": 5 / 6, "recall": 5 / 6, "f1": 5 / 6, "support": 6}
    )
    assert scores["woman"]["recall"] == pytest.approx(0.75)
    assert scores["roc_auc"] == pytest.approx(22.5 / 24)
    assert scores["threshold"] == 0.5
    # precision at each woman, ranked by score: 1, 1, 1, then 4/6 (the 0.4 tie with a man)
    assert scores["average_precision"] == pytest.approx((1 + 1 + 1 + 4 / 6) / 4)
    expected_loss = -np.mean(np.where(y_true == 1, np.log(y_prob), np.log(1 - y_prob)))
    assert scores["log_loss"] == pytest.approx(expected_loss)
    assert 0 < scores["ece"] < 1
    json.dumps(scores)


def test_ece_is_the_calibration_curves_weighted_distance_from_the_diagonal():
    rng = np.random.default_rng(0)
    y_prob = rng.random(500)
    y_true = (rng.random(500) < y_prob**2).astype(int)  # over-confident in class 1
    observed, predicted = calibration_curve(y_true, y_prob, n_bins=7)
    counts = np.histogram(y_prob, bins=np.linspace(0, 1, 8))[0]
    counts = counts[counts > 0]
    expected = np.sum(counts * np.abs(observed - predicted)) / 500
    assert expected_calibration_error(y_true, y_prob, 7) == pytest.approx(expected)
    assert expected > 0.05
    calibrated = np.array([0.25] * 4 + [0.75] * 4)
    assert expected_calibration_error(np.array([1, 0, 0, 0, 1, 1, 1, 0]), calibrated, 10) == 0


def test_a_majority_only_model_gets_balanced_accuracy_one_half():
    y_true = np.array([0] * 65 + [1] * 35)
    scores = compute_metrics(y_true, np.full(100, 0.2), 0.5, CLASSES, majority=0, bins=10)
    assert scores["accuracy"] == pytest.approx(0.65) == scores["baseline_accuracy"]
    assert scores["balanced_accuracy"] == pytest.approx(0.5)


def test_threshold_moves_predictions():
    y_true = np.array([0, 1, 1])
    y_prob = np.array([0.2, 0.35, 0.9])
    assert compute_metrics(y_true, y_prob, 0.5, CLASSES, 0, bins=10)["accuracy"] == pytest.approx(
        2 / 3
    )
    assert compute_metrics(y_true, y_prob, 0.3, CLASSES, 0, bins=10)["accuracy"] == pytest.approx(
        1.0
    )


def test_log_evaluation_writes_metrics_and_plot_data(tmp_path):
    y_true = np.array([0, 0, 1, 1])
    y_prob = np.array([0.1, 0.7, 0.8, 0.9], dtype=np.float32)  # as the model returns them
    scores = compute_metrics(y_true, y_prob, 0.5, CLASSES, 0, bins=2)
    with Live(str(tmp_path), dvcyaml=False, save_dvc_exp=False) as live:
        log_evaluation(live, Evaluation(scores, CLASSES, 0.5, y_true, y_prob, bins=2))
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["test"]["accuracy"] == pytest.approx(0.75)
    assert written["test"]["woman"]["support"] == 2
    confusion = json.loads((tmp_path / "plots/sklearn/test/confusion_matrix.json").read_text())
    pairs = [(row["actual"], row["predicted"]) for row in confusion]
    assert pairs == [("man", "man"), ("man", "woman"), ("woman", "woman"), ("woman", "woman")]
    roc = json.loads((tmp_path / "plots/sklearn/test/roc.json").read_text())
    assert {"fpr", "tpr", "threshold"} <= set(roc["roc"][0])
    pr = json.loads((tmp_path / "plots/sklearn/test/precision_recall.json").read_text())
    assert pr["precision_recall"][0] == pytest.approx(
        {"precision": 0.5, "recall": 1, "threshold": 0.1}
    )
    calibration = json.loads((tmp_path / "plots/sklearn/test/calibration.json").read_text())
    assert [row["prob_true"] for row in calibration["calibration"]] == [0.0, 2 / 3]
    assert written["test"]["ece"] == pytest.approx((0.1 + abs(2 - (0.7 + 0.8 + 0.9))) / 4, rel=1e-6)


def test_evaluate_refuses_a_model_that_does_not_match_the_shards(trained_model):
    classifier = load_classifier(trained_model)
    other = ShardInfo(image_size=64, classes=["man", "woman"], counts={})
    with pytest.raises(GenderfaceError, match=r"does not match the shards .* 64 px"):
        evaluate(classifier, None, other, bins=10)


def test_evaluate_scores_the_test_split_against_the_training_majority(
    trained_model, tmp_path, caplog
):
    """Train is mostly woman, test mostly man: the baseline must follow the training majority."""
    shards, info = _shards(tmp_path)
    classifier = load_classifier(trained_model)
    with caplog.at_level(logging.INFO, logger="evaluate"):
        result = evaluate(classifier, batched(load_split(shards, "test", info), 3), info, bins=10)
    assert sorted(result.y_true.tolist()) == [0, 0, 0, 1]
    assert result.scores["images"] == 4
    assert result.scores["threshold"] == classifier.threshold
    assert result.scores["baseline_accuracy"] == pytest.approx(0.25)
    predicted = (result.y_prob >= classifier.threshold).astype(int)
    assert result.scores["accuracy"] == pytest.approx(np.mean(predicted == result.y_true))
    assert "majority baseline 0.250 (always woman)" in caplog.text


def test_choose_threshold_maximises_balanced_accuracy():
    """Scores that separate the classes only above 0.8: the chosen cut-off must sit there."""
    from genderface.evaluation import choose_threshold

    y_true = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    y_prob = np.array([0.1, 0.6, 0.65, 0.7, 0.75, 0.78, 0.85, 0.9])
    threshold = choose_threshold(y_true, y_prob)
    assert 0.78 < threshold <= 0.85
    assert skm_balanced(y_true, (y_prob >= threshold).astype(int)) == 1.0


def test_most_confident_mistakes_come_first():
    y_true = np.array([0, 1, 0, 1, 0, 1])
    y_prob = np.array([0.9, 0.2, 0.6, 0.05, 0.1, 0.95])  # wrong: 0 (p 0.9), 1 (0.8), 2, 3 (0.95)
    result = Evaluation({}, CLASSES, 0.5, y_true, y_prob, bins=10)
    assert most_confident_mistakes(result, 10) == [3, 0, 1, 2]
    assert most_confident_mistakes(result, 2) == [3, 0]
    assert most_confident_mistakes(result, 0) == []


def _shards(tmp_path, per_class=6):
    """Shards of write_faces images: 3 man + 1 woman in test."""
    import pandas as pd

    from genderface.preprocess import write_shards

    from .conftest import write_faces

    raw = write_faces(tmp_path / "raw", per_class=per_class)
    plan = {
        "man": ["train"] * 2 + ["test"] * 3 + ["validation"],
        "woman": ["train"] * 4 + ["test", "validation"],
    }
    rows = [
        (f"faces/{label}/{label}_{i}.jpg", label, f"{i:064d}", name)
        for label, names in plan.items()
        for i, name in enumerate(names)
    ]
    manifest = pd.DataFrame(rows, columns=["path", "label", "sha256", "split"])
    write_shards(manifest, raw, tmp_path / "shards", image_size=32, images_per_shard=2)
    return tmp_path / "shards", ShardInfo.read(tmp_path / "shards")


def test_collect_mistakes_reads_the_pixels_and_paths_of_the_wrong_test_images(tmp_path):
    shards, info = _shards(tmp_path)
    records = list(load_split(shards, "test", info).as_numpy_iterator())
    y_true = np.array([int(label) for _, label in records])
    y_prob = np.where(y_true == 1, 0.1, 0.2)  # every woman wrong (p(man) 0.9), men right
    y_prob[0] = 0.7 if y_true[0] == 0 else y_prob[0]  # and one man wrong, less confidently
    result = Evaluation({}, info.classes, 0.5, y_true, y_prob, bins=10)
    mistakes = collect_mistakes(result, shards, info, count=5)
    wrong = most_confident_mistakes(result, 5)
    assert len(mistakes) == len(wrong) >= 2
    for mistake, index in zip(mistakes, wrong, strict=True):
        np.testing.assert_array_equal(mistake.pixels, records[index][0])
        assert mistake.true == info.classes[y_true[index]] != mistake.predicted
        assert mistake.path.startswith(f"faces/{mistake.true}/")
    assert mistakes[0].probability == pytest.approx(0.9)
    path = tmp_path / "gallery" / "mistakes.png"
    save_png(mistakes_figure(mistakes, wrong=len(mistakes)), path)
    with Image.open(path) as png:
        assert png.format == "PNG"
        assert png.width > 2 * 100  # two images side by side
    assert [p.name for p in path.parent.iterdir()] == ["mistakes.png"]  # no temporary left


def test_collect_mistakes_refuses_records_in_another_order(tmp_path):
    shards, info = _shards(tmp_path)
    labels = np.array([int(label) for _, label in load_split(shards, "test", info)])
    result = Evaluation({}, info.classes, 0.5, 1 - labels, np.full(4, 0.5), bins=10)
    with pytest.raises(GenderfaceError, match="not in the order"):
        collect_mistakes(result, shards, info, count=4)


def _external(root, man=3, woman=2):
    for label, color, n in (("man", (40, 60, 200), man), ("woman", (200, 80, 40), woman)):
        folder = root / label / "sub"
        folder.mkdir(parents=True)
        for i in range(n):
            (folder / f"{i}.png").write_bytes(image_bytes((color[0] + i, *color[1:]), "PNG"))
    (root / "woman" / "broken.jpg").write_text("not an image")
    return root


def test_evaluate_folder_scores_an_external_set_at_the_models_threshold(trained_model, tmp_path):
    classifier = load_classifier(trained_model)
    info = ShardInfo(32, ["man", "woman"], {"train": {"man": 5, "woman": 3}})
    result = evaluate_folder(classifier, _external(tmp_path / "ext"), info, 2, bins=5)
    assert result.scores["images"] == 5
    assert result.scores["skipped"] == 1
    assert result.scores["threshold"] == classifier.threshold
    assert result.y_true.tolist() == [0, 0, 0, 1, 1]
    assert result.scores["man"]["support"] == 3
    assert result.scores["baseline_accuracy"] == pytest.approx(3 / 5)
    single = load_rgb(tmp_path / "ext" / "man" / "sub" / "0.png", 32)[None].astype("float32")
    assert result.y_prob[0] == pytest.approx(
        float(classifier.model.predict(single, verbose=0)[0, 0])
    )


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        (None, "no such folder"),
        (["man", "women"], r"class folders \['man', 'women'\] do not match"),
        (["man", "woman"], "needs readable images of both classes"),
    ],
)
def test_evaluate_folder_bad_layouts(trained_model, tmp_path, layout, message):
    folder = tmp_path / "ext"
    for name in layout or []:
        (folder / name).mkdir(parents=True)
        (folder / name / "x.txt").write_text("not an image")
    info = ShardInfo(32, ["man", "woman"], {"train": {"man": 5, "woman": 3}})
    with pytest.raises(GenderfaceError, match=f"evaluate.external '{folder}': {message}"):
        evaluate_folder(load_classifier(trained_model), folder, info, 2, bins=5)

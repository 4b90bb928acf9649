import hashlib
import logging

import numpy as np
import pandas as pd
import pytest

from genderface.data.images import load_rgb
from genderface.data.input_pipeline import load_split
from genderface.data.shards import ShardInfo
from genderface.errors import GenderfaceError
from genderface.evaluation.evaluate import (
    collect_mistakes,
    evaluate_test,
    source_scores,
    split_attributes,
)
from genderface.evaluation.external import evaluate_folder
from genderface.evaluation.metrics import most_confident_mistakes
from genderface.evaluation.outputs import PREDICTION_COLUMNS
from genderface.evaluation.scoring import Evaluation, Scoring
from genderface.modeling.forward import forward_pass
from genderface.modeling.model_file import load_classifier

from .conftest import evaluate_params, image_bytes

CLASSES = ["man", "woman"]


def test_evaluate_refuses_a_model_that_does_not_match_the_shards(trained_model, tmp_path):
    classifier = load_classifier(trained_model)
    other = ShardInfo(image_size=64, classes=["man", "woman"], counts={})
    with pytest.raises(GenderfaceError, match=r"does not match the shards .* 64 px"):
        Scoring.of(classifier, other, evaluate_params())


def test_evaluate_scores_the_test_split_against_the_training_majority(
    trained_model, tmp_path, caplog
):
    """Train is mostly woman, test mostly man: the baseline must follow the training majority."""
    shards, info = _shards(tmp_path)
    classifier = load_classifier(trained_model)
    with caplog.at_level(logging.INFO, logger="evaluate"):
        scoring = Scoring.of(classifier, info, evaluate_params())
        result = evaluate_test(forward_pass(classifier.model), shards, info, scoring, 3)
    assert sorted(result.y_true.tolist()) == [0, 0, 0, 1]
    in_load_order = list(load_split(shards, "test", info).as_numpy_iterator())
    assert result.y_true.tolist() == [int(label) for _, label in in_load_order]
    pixels = np.stack([image for image, _ in in_load_order]).astype("float32")
    direct = classifier.model.predict(pixels, verbose=0).reshape(-1)
    np.testing.assert_allclose(result.y_prob, direct, atol=1e-5)
    assert result.scores["images"] == 4
    assert result.scores["threshold"] == classifier.threshold
    assert result.scores["baseline_accuracy"] == pytest.approx(0.25)
    predicted = (result.y_prob >= classifier.threshold).astype(int)
    assert result.scores["accuracy"] == pytest.approx(np.mean(predicted == result.y_true))
    assert "majority baseline 0.250 (always woman)" in caplog.text
    predictions = result.predictions()
    assert list(predictions.columns) == PREDICTION_COLUMNS
    assert predictions["file"].tolist() == sorted(result.files)
    assert set(predictions["sha256"]) == {f"{i:064d}" for i in (2, 3, 4)}
    row = predictions.set_index("file").loc["faces/woman/woman_4.jpg"]
    assert (row["label"], row["sha256"]) == ("woman", f"{4:064d}")
    index = result.files.index("faces/woman/woman_4.jpg")
    assert row["probability"] == pytest.approx(result.y_prob[index], abs=1e-6)
    assert row["predicted"] == CLASSES[int(result.y_prob[index] >= classifier.threshold)]


def _shards(tmp_path, per_class=6):
    """Shards of write_faces images: 3 man + 1 woman in test."""
    import pandas as pd

    from genderface.data.framing import Framing
    from genderface.data.preprocess import write_shards

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
    whole = Framing("whole", 0.2)
    write_shards(manifest, raw, tmp_path / "shards", 32, images_per_shard=2, framing=whole)
    return tmp_path / "shards", ShardInfo.read(tmp_path / "shards")


def test_collect_mistakes_reads_the_pixels_and_paths_of_the_wrong_test_images(tmp_path):
    shards, info = _shards(tmp_path)
    records = list(load_split(shards, "test", info).as_numpy_iterator())
    y_true = np.array([int(label) for _, label in records])
    y_prob = np.where(y_true == 1, 0.1, 0.2)  # every woman wrong (p(man) 0.9), men right
    y_prob[0] = 0.7 if y_true[0] == 0 else y_prob[0]  # and one man wrong, less confidently
    files = [f"f{i}" for i in range(len(y_true))]
    result = Evaluation({}, info.classes, 0.5, files, files, y_true, y_prob, bins=10)
    mistakes = collect_mistakes(result, shards, info, count=5)
    wrong = most_confident_mistakes(y_true, y_prob, 0.5, 5)
    assert len(mistakes) == len(wrong) >= 2
    for mistake, index in zip(mistakes, wrong, strict=True):
        np.testing.assert_array_equal(mistake.pixels, records[index][0])
        assert mistake.true == info.classes[y_true[index]] != mistake.predicted
        assert mistake.path.startswith(f"faces/{mistake.true}/")
    assert mistakes[0].probability == pytest.approx(0.9)


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
    scoring = Scoring.of(classifier, info, evaluate_params(calibration_bins=5))
    forward = forward_pass(classifier.model)
    scored = evaluate_folder(forward, 32, _external(tmp_path / "ext"), scoring, batch_size=2)
    result = scored.evaluation
    assert scored.no_face == 0  # whole images: no face finder ran, nothing left out
    assert result.scores["images"] == 5
    assert result.scores["skipped"] == 1
    assert result.scores["threshold"] == classifier.threshold
    assert result.y_true.tolist() == [0, 0, 0, 1, 1]
    men, women = [f"man/sub/{i}.png" for i in range(3)], [f"woman/sub/{i}.png" for i in range(2)]
    assert result.files == [*men, *women]
    first = (tmp_path / "ext" / "man" / "sub" / "0.png").read_bytes()
    assert result.sha256[0] == hashlib.sha256(first).hexdigest()
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
    classifier = load_classifier(trained_model)
    scoring = Scoring.of(classifier, info, evaluate_params())
    with pytest.raises(GenderfaceError, match=f"evaluate.external '{folder}': {message}"):
        evaluate_folder(forward_pass(classifier.model), 32, folder, scoring, batch_size=4)


def _by_source() -> tuple[Evaluation, pd.DataFrame]:
    """Five test images from two sources, in the shards' order (not the manifest's), and the
    manifest: the archive gives no age, a train image is listed too."""
    files = ["utkface/2.jpg", "archive/man/a.jpg", "archive/woman/b.jpg", "utkface/1.jpg"]
    files.append("archive/man/c.jpg")
    y_true, y_prob = np.array([1, 0, 1, 1, 0]), np.array([0.9, 0.2, 0.3, 0.8, 0.6])
    evaluation = Evaluation({}, CLASSES, 0.5, files, files, y_true, y_prob, bins=10)
    rows = [
        ("archive/man/a.jpg", "archive", "man", "test", ""),
        ("archive/man/c.jpg", "archive", "man", "test", ""),
        ("archive/man/t.jpg", "archive", "man", "train", ""),
        ("archive/woman/b.jpg", "archive", "woman", "test", ""),
        ("utkface/1.jpg", "utkface", "woman", "test", "20-29"),
        ("utkface/2.jpg", "utkface", "woman", "test", "70+"),
    ]
    manifest = pd.DataFrame(
        [(path, source, label, path, split, age) for path, source, label, split, age in rows],
        columns=["path", "source", "label", "sha256", "split", "age"],
    )
    return evaluation, manifest


def test_each_test_image_gets_its_source_and_attributes_from_the_manifest_by_path():
    evaluation, manifest = _by_source()
    joined = split_attributes(evaluation, manifest)
    assert joined.columns.tolist() == ["file", "source", "age"]
    assert joined["file"].tolist() == evaluation.files  # the evaluation's order
    assert joined["source"].tolist() == ["utkface", "archive", "archive", "utkface", "archive"]
    assert joined["age"].tolist() == ["70+", "", "", "20-29", ""]
    stale = manifest[manifest["path"] != "utkface/1.jpg"]
    with pytest.raises(GenderfaceError, match=r"test image utkface/1\.jpg is not in the split"):
        split_attributes(evaluation, stale)


def test_each_source_with_both_classes_is_scored_alone(caplog):
    evaluation, manifest = _by_source()
    sources = split_attributes(evaluation, manifest)["source"]
    scoring = Scoring(CLASSES, 0.5, majority=0, bins=10, resamples=50, seed=0)
    with caplog.at_level(logging.INFO, logger="evaluate"):
        scores = source_scores(evaluation, sources, scoring)
    assert list(scores) == ["archive"]  # utkface's test images are all women
    assert "test utkface: one class only" in caplog.text
    archive = scores["archive"]
    assert archive.files == ["archive/man/a.jpg", "archive/woman/b.jpg", "archive/man/c.jpg"]
    # a right, b (woman at 0.3) and c (man at 0.6) wrong
    assert archive.scores["accuracy"] == pytest.approx(1 / 3)
    assert archive.scores["balanced_accuracy"] == pytest.approx((1 / 2 + 0) / 2)
    assert archive.scores["baseline_accuracy"] == pytest.approx(2 / 3)
    assert {"accuracy_ci", "balanced_accuracy_ci", "roc_auc_ci"} <= set(archive.scores)

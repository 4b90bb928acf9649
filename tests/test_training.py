import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from dvclive import Live
from dvclive.keras import DVCLiveCallback

from genderface.modeling import model_file
from genderface.modeling.model_file import load_classifier, save_classifier
from genderface.modeling.training import class_weights
from genderface.params import parse_params

from .conftest import TWO_PHASES, demo_training_data, tiny_params_dict, tree_digest


def test_balanced_class_weights_match_inverse_frequency():
    counts = {"woman": 35, "man": 65}
    weights = class_weights(["man", "woman"], counts, "balanced")
    assert weights == pytest.approx({0: 100 / (2 * 65), 1: 100 / (2 * 35)})
    assert class_weights(["man", "woman"], counts, "none") is None


def test_trained_model_saves_atomically_and_reloads(trained_model, tmp_path, monkeypatch):
    """A save that fails half-way through writing leaves the previous model byte for byte and no
    temporary file; a save that succeeds replaces it with one that loads."""
    folder = tmp_path / "models"
    shutil.copytree(trained_model.parent, folder)
    model_path = folder / "model.keras"
    before = tree_digest(folder)
    assert sorted(before) == ["model.json", "model.keras"]
    classifier = load_classifier(model_path)

    def half_written(model, path: Path) -> None:
        path.write_bytes(b"PK\x03\x04 the first bytes of an archive")
        raise OSError("No space left on device")

    monkeypatch.setattr(model_file, "save_for_inference", half_written)
    with pytest.raises(OSError, match="No space left"):
        save_classifier(classifier, model_path)
    assert tree_digest(folder) == before  # every file, hidden temporaries included
    monkeypatch.undo()
    model_path.unlink()
    save_classifier(classifier, model_path)
    assert sorted(tree_digest(folder)) == ["model.json", "model.keras"]
    sidecar = json.loads((folder / "model.json").read_text())
    assert sidecar["classes"] == ["man", "woman"]
    reloaded = load_classifier(model_path)
    assert reloaded.threshold == sidecar["threshold"] == classifier.threshold
    assert reloaded.image_size == 32
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(
        reloaded.model.predict(pixels, verbose=0), classifier.model.predict(pixels, verbose=0)
    )


@pytest.mark.slow
def test_training_logs_per_epoch_curves_with_dvclive(tmp_path):
    from genderface.modeling.training import train

    two_by_two = {"train.epochs": 2, "train.fine_tune_epochs": 2}
    patience = {"train.early_stopping_patience": 5}
    params = parse_params(tiny_params_dict(**TWO_PHASES, **two_by_two, **patience))
    data = demo_training_data(tmp_path, params)
    with Live(str(tmp_path / "metrics"), dvcyaml=False, save_dvc_exp=False) as live:
        train(params, data, callbacks=[DVCLiveCallback(live=live)])
    summary = json.loads((tmp_path / "metrics" / "metrics.json").read_text())
    assert summary["step"] == 3, "two head epochs then two fine-tuning epochs, one curve"
    assert set(summary["eval"]) == {"loss", "accuracy", "auc"}
    assert set(summary["train"]) == {"loss", "accuracy", "auc", "learning_rate"}
    loss_rows = (tmp_path / "metrics/plots/metrics/eval/loss.tsv").read_text().splitlines()
    assert loss_rows[0] == "step\tloss"
    assert [row.split("\t")[0] for row in loss_rows[1:]] == ["0", "1", "2", "3"]
    rates = (tmp_path / "metrics/plots/metrics/train/learning_rate.tsv").read_text().splitlines()
    assert [float(row.split("\t")[1]) for row in rates[1:]] == pytest.approx(
        [1e-3, 0.5e-3, 1e-4, 0.5e-4]
    ), "cosine within each phase, from each phase's own rate"


def test_a_backup_from_other_params_or_shards_is_discarded(tmp_path, tiny_params):
    from genderface.modeling.resume import Backup, fingerprint

    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "train-00000-of-00001.tfrecord").write_bytes(b"abc")
    original = fingerprint(tiny_params, shards)
    backup = Backup(tmp_path / "backup", original)
    assert not backup.resuming
    (tmp_path / "backup" / "head").mkdir()  # an EpochBackup snapshot, mid phase 1
    assert Backup(tmp_path / "backup", original).resuming, "a run killed in phase 1 resumes"
    (tmp_path / "backup" / "state.json").write_text(
        json.dumps({"fingerprint": original, "head": {"epochs": 3, "seeds": []}})
    )
    assert Backup(tmp_path / "backup", original).done("head") == 3
    assert Backup(tmp_path / "backup", original).resuming
    (shards / "train-00000-of-00001.tfrecord").write_bytes(b"abd")
    changed = fingerprint(tiny_params, shards)
    other = tiny_params.model_copy(
        update={"train": tiny_params.train.model_copy(update={"fine_tune_blocks": 1})}
    )
    assert len({original, changed, fingerprint(other, shards)}) == 3
    stale = Backup(tmp_path / "backup", changed)
    assert stale.done("head") is None
    assert not stale.resuming
    assert [p.name for p in (tmp_path / "backup").iterdir()] == ["state.json"], "old one gone"
    assert json.loads((tmp_path / "backup" / "state.json").read_text()) == {"fingerprint": changed}


def _scratch(tiny_params, **train):
    return tiny_params.model_copy(
        update={
            "model": tiny_params.model.model_copy(update={"batch_norm": True}),
            "train": tiny_params.train.model_copy(update={"recipe": "auto", **train}),
        }
    )


def test_warm_up_then_cosine_per_step():
    from genderface.modeling.training import learning_rate

    cfg = parse_params(tiny_params_dict(**{"train.warmup_epochs": 1, "train.epochs": 3})).train
    schedule = learning_rate(cfg, "scratch", steps_per_epoch=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 20, 30)]
    peak = cfg.learning_rate
    assert rates == pytest.approx([0.0, peak / 2, peak, peak / 2, 0.0], abs=1e-9)
    constant = cfg.model_copy(update={"lr_schedule": "constant"})
    flat = learning_rate(constant, "scratch", steps_per_epoch=10)
    assert [float(flat(step)) for step in (5, 10, 30)] == pytest.approx([peak / 2, peak, peak])


@pytest.mark.slow
def test_scratch_recipe_trains_every_layer_byte_reproducibly_and_reloads(tmp_path, tiny_params):
    """auto with random weights is the scratch recipe: one phase, no frozen layer, every
    convolution of every block moves; with batch normalisation, weight decay and label smoothing,
    a second training (names restarting, as in a new `dvc repro` process) writes the same bytes,
    and the saved model predicts as the trained one."""
    import keras

    from genderface.modeling.model import build_model
    from genderface.modeling.training import phases, train

    params = _scratch(tiny_params, weight_decay=0.01, label_smoothing=0.1)
    assert params.recipe == "scratch" and phases(params) == ("scratch",)
    cfg = params.train
    keras.utils.set_random_seed(cfg.seed)
    start = build_model(32, params.model, cfg.augment, cfg.seed, recipe="scratch")
    assert all(layer.trainable for layer in start.get_layer("vgg16").layers)
    data = demo_training_data(tmp_path, params)
    saved = []
    for run in ("a", "b"):
        keras.backend.clear_session()
        path = tmp_path / run / "model.keras"
        classifier = train(params, data, callbacks=[])
        save_classifier(classifier, path)
        saved.append(path)
    assert saved[0].read_bytes() == saved[1].read_bytes()
    base = classifier.model.get_layer("vgg16")
    assert all(layer.trainable for layer in base.layers)
    assert any("_bn" in layer.name for layer in base.layers)
    convs = [layer.name for layer in base.layers if "_conv" in layer.name]
    assert len(convs) == 13
    for name in convs:
        before = start.get_layer("vgg16").get_layer(name).kernel.numpy()
        after = base.get_layer(name).kernel.numpy()
        # rtol well above weight decay's shrinking alone (lr 1e-3 x 0.01 per step, two steps)
        assert not np.allclose(before, after, rtol=1e-3, atol=0), f"{name} did not learn"
    pixels = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    loaded = load_classifier(saved[0])
    np.testing.assert_array_equal(
        classifier.model.predict(pixels, verbose=0), loaded.model.predict(pixels, verbose=0)
    )

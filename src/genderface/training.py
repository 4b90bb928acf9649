"""Training in two phases: the head on a frozen VGG16, then the top conv blocks fine-tuned.

Phase 1 trains only the head. Without augmentation its input never changes, so the frozen base's
features are computed once per split (the bottleneck cache) and the head trains on them, which
makes a phase-1 epoch far cheaper than a pass through VGG16 (benchmarks/bottleneck.py). Phase 2
unfreezes `train.fine_tune_blocks` conv blocks at a lower learning rate, with augmentation.
Each phase stops early on validation loss and keeps its best weights. Progress is backed up every
epoch, so a killed run resumes from its last completed epoch.
"""

import hashlib
import json
import logging
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from genderface.devices import Devices, float32_model, precision, resolve_devices
from genderface.evaluation import choose_threshold, model_outputs
from genderface.fsutil import atomic_path, write_json
from genderface.input_pipeline import ShardInfo, batched, load_split
from genderface.model import (
    Classifier,
    build_model,
    feature_extractor,
    head_of,
    prepare_fine_tuning,
)
from genderface.params import Params, TrainParams

log = logging.getLogger("train")

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
}
PHASES = ("head", "fine_tune")


@dataclass(frozen=True)
class TrainingData:
    """Train and validation splits, decoded once and cached in memory as uint8."""

    train: tf.data.Dataset
    validation: tf.data.Dataset
    info: ShardInfo

    @classmethod
    def from_shards(cls, shards_dir: Path) -> "TrainingData":
        info = ShardInfo.read(shards_dir)
        return cls(
            train=load_split(shards_dir, "train", info).cache(),
            validation=load_split(shards_dir, "validation", info).cache(),
            info=info,
        )


def class_weights(classes: list[str], counts: dict[str, int], mode: str) -> dict[int, float] | None:
    """Weights inversely proportional to class frequency (scikit-learn's "balanced"), or None."""
    if mode == "none":
        return None
    labels = np.repeat(np.arange(len(classes)), [counts[name] for name in classes])
    weights = compute_class_weight("balanced", classes=np.arange(len(classes)), y=labels)
    return {i: float(w) for i, w in enumerate(weights)}


def phase_budget(cfg: TrainParams, phase: str) -> tuple[float, int]:
    """A phase's starting learning rate and its most epochs."""
    if phase == "head":
        return cfg.learning_rate, cfg.epochs
    return cfg.fine_tune_learning_rate, cfg.fine_tune_epochs


def learning_rate_schedule(cfg: TrainParams, phase: str) -> Callable[[int], float]:
    """Epoch within the phase -> learning rate: constant, or a cosine from the phase's rate."""
    base, epochs = phase_budget(cfg, phase)
    if cfg.lr_schedule == "constant":
        return lambda _epoch: base
    return lambda epoch: base * 0.5 * (1 + math.cos(math.pi * epoch / epochs))


class Backup:
    """The resume state in `root`: Keras BackupAndRestore per phase, plus a marker per phase done.

    Everything is tied to a fingerprint of the params and data, so a changed pipeline never
    resumes from a stale run.
    """

    def __init__(self, root: Path, fingerprint: str) -> None:
        self.root = root
        state = self._state()
        if state.get("fingerprint") != fingerprint:
            shutil.rmtree(root, ignore_errors=True)
            state = {"fingerprint": fingerprint}
            write_json(root / "state.json", state)  # before any epoch, so phase 1 can resume
        self.state = state

    @property
    def resuming(self) -> bool:
        """Whether an earlier run of the same params and data left progress to resume from."""
        return len(self.state) > 1 or any((self.root / phase).exists() for phase in PHASES)

    def discard(self) -> None:
        """Called once the model is saved: the next run starts afresh."""
        shutil.rmtree(self.root, ignore_errors=True)

    def _state(self) -> dict:
        try:
            return json.loads((self.root / "state.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def callback(self, phase: str) -> keras.callbacks.BackupAndRestore:
        return keras.callbacks.BackupAndRestore(str(self.root / phase), double_checkpoint=True)

    def done(self, phase: str) -> int | None:
        """Epochs the phase ran, if it completed in an earlier run."""
        return self.state.get(phase)

    def finish(self, phase: str, model: keras.Model, epochs: int) -> None:
        with atomic_path(self.root / f"{phase}.weights.h5", suffix=".weights.h5") as tmp:
            model.save_weights(tmp)
        self.state = {**self.state, phase: epochs}
        write_json(self.root / "state.json", self.state)

    def restore(self, phase: str, model: keras.Model) -> None:
        model.load_weights(self.root / f"{phase}.weights.h5")


def fingerprint(params: Params, shards_dir: Path) -> str:
    """What a resumable run depends on: the model and training params and the shards' bytes."""
    digest = hashlib.sha256()
    relevant = {"model": params.model.model_dump(), "train": params.train.model_dump()}
    digest.update(json.dumps(relevant, sort_keys=True).encode())
    for shard in sorted(shards_dir.iterdir()):
        digest.update(shard.name.encode())
        with shard.open("rb") as stream:
            digest.update(hashlib.file_digest(stream, "sha256").digest())
    return digest.hexdigest()


def _features(model: keras.Model, dataset: tf.data.Dataset, batch: int) -> tf.data.Dataset:
    """(features, label) for every image of a split, from one pass through the frozen base."""
    batches = batched(dataset, batch)
    labels, features = model_outputs(feature_extractor(model), batches, "base features")
    return tf.data.Dataset.from_tensor_slices((features, labels))


def _fit_phase(
    model: keras.Model,
    phase: str,
    data: tuple[tf.data.Dataset, tf.data.Dataset],
    start_epoch: int,
    cfg: TrainParams,
    devices: Devices,
    weights: dict[int, float] | None,
    callbacks: list[keras.callbacks.Callback],
) -> int:
    """Compile (again: the trainable set may have changed) and fit one phase.

    Epochs are numbered across both phases, so the curves continue. Returns the epoch count
    reached, which the next phase starts from.
    """
    schedule = learning_rate_schedule(cfg, phase)
    epochs = phase_budget(cfg, phase)[1]
    with devices.strategy.scope():
        model.compile(
            optimizer=OPTIMIZERS[cfg.optimizer](learning_rate=schedule(0)),
            loss=keras.losses.BinaryCrossentropy(),
            metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
            jit_compile=devices.jit_compile,
        )
    train, validation = data
    history = model.fit(
        train,
        validation_data=validation,
        initial_epoch=start_epoch,
        epochs=start_epoch + epochs,
        shuffle=False,  # the train dataset reshuffles itself each epoch, seeded (batched())
        class_weight=weights,
        callbacks=[  # the scheduler first, so the others see this epoch's learning rate
            keras.callbacks.LearningRateScheduler(lambda epoch: schedule(epoch - start_epoch)),
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=cfg.early_stopping_patience, restore_best_weights=True
            ),
            *callbacks,
        ],
        verbose=2,
    )
    # BackupAndRestore leaves the resumed epoch on the model, where the next fit would read it.
    model._initial_epoch = None
    return history.epoch[-1] + 1 if history.epoch else start_epoch + epochs


def train(
    params: Params,
    data: TrainingData,
    callbacks: list[keras.callbacks.Callback],
    backup: Backup | None = None,
    devices: Devices | None = None,
) -> Classifier:
    """Both phases, then the decision threshold chosen on validation.

    Seeds come from train.seed; with train.deterministic, TensorFlow's ops are deterministic too,
    so the same params and data give the same model. With a backup, each completed epoch is
    saved in it and a rerun resumes from it.
    """
    cfg = params.train
    devices = devices or resolve_devices(cfg)
    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
        if devices.jit_compile:
            log.warning("XLA stays off: Keras disables jit_compile under op determinism")
    weights = class_weights(data.info.classes, data.info.counts["train"], cfg.class_weights)
    with precision(devices.dtype_policy), devices.strategy.scope():
        model = build_model(data.info.image_size, params.model, cfg.augment, cfg.seed)
    batch = cfg.batch_size
    validation = batched(data.validation, batch)
    epoch = 0
    for phase in PHASES if cfg.fine_tune_blocks and cfg.fine_tune_epochs else PHASES[:1]:
        if phase == "fine_tune":
            log.info("phase 2: fine-tuning VGG16's top %d conv block(s)", cfg.fine_tune_blocks)
            with devices.strategy.scope():
                prepare_fine_tuning(model, cfg.fine_tune_blocks)
        done = backup.done(phase) if backup else None
        if done is not None:
            log.info(
                "phase %s finished in an earlier run (epoch %d): resuming after it", phase, done
            )
            backup.restore(phase, model)
            epoch = done
            continue
        if phase == "head" and not cfg.augment_head:
            log.info("phase 1: computing the frozen base's features once (bottleneck cache)")
            head = head_of(model)
            # A new model over the head's layers trains them; the head itself is never
            # compiled, so the saved model carries no stale optimizer for it.
            with devices.strategy.scope():
                fit_model = keras.Model(head.inputs, head.outputs, name="head_trainer")
            fit_data = (
                batched(_features(model, data.train, batch), batch, cfg.seed),
                batched(_features(model, data.validation, batch), batch),
            )
        else:
            fit_model = model
            fit_data = (batched(data.train, batch, cfg.seed + epoch), validation)
        extra = [backup.callback(phase)] if backup else []
        epoch = _fit_phase(
            fit_model, phase, fit_data, epoch, cfg, devices, weights, [*callbacks, *extra]
        )
        if backup:
            backup.finish(phase, model, epoch)
    model = float32_model(model)  # what is saved, scored and used by predict: see its docstring
    threshold = cfg.threshold
    if threshold == "validation":
        labels, probabilities = model_outputs(model, validation, "validation threshold")
        threshold = choose_threshold(labels, probabilities.reshape(-1))
    return Classifier(model, data.info.classes, threshold, devices.dtype_policy)

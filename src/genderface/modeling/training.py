"""Training by one of two recipes: transfer (two phases) or scratch (one phase, every layer).

Transfer, for ImageNet or file weights:
Phase 1 trains only the head. Without augmentation its input never changes, so the frozen base's
features are computed once per split (the bottleneck cache) and the head trains on them, which
makes a phase-1 epoch far cheaper than a pass through VGG16 (benchmarks/bottleneck_cache.py).
Phase 2 unfreezes `train.fine_tune_blocks` conv blocks at a lower learning rate, with augmentation.
Scratch, for random weights (nothing learned to transfer): every layer trains from the first
step, after a linear warm-up of the learning rate.
Each phase stops early on validation loss and keeps its best weights; the resume state
(resume.py) lets a killed run continue from its last completed epoch to the same model. With
train.balance every phase draws its epochs group by group (data/sampling.py), the bottleneck
features as the pixels.
"""

import logging
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from genderface.data.input_pipeline import TrainingData, batched, shuffled_epochs, steps_per_epoch
from genderface.data.sampling import Groups
from genderface.decision import choose_threshold
from genderface.modeling.devices import Devices, precision, resolve_devices
from genderface.modeling.forward import labelled_outputs
from genderface.modeling.model import (
    build_model,
    feature_extractor,
    head_of,
    prepare_fine_tuning,
)
from genderface.modeling.model_file import Classifier, float32_model
from genderface.modeling.model_info import ModelInfo
from genderface.modeling.provenance import provenance
from genderface.modeling.resume import Backup, ResumableEarlyStopping
from genderface.params import Params, TrainParams

log = logging.getLogger("train")

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
}


def class_weights(classes: list[str], counts: dict[str, int], mode: str) -> dict[int, float] | None:
    """Weights inversely proportional to class frequency (scikit-learn's "balanced"), or None."""
    if mode == "none":
        return None
    labels = np.repeat(np.arange(len(classes)), [counts[name] for name in classes])
    weights = compute_class_weight("balanced", classes=np.arange(len(classes)), y=labels)
    return {i: float(w) for i, w in enumerate(weights)}


def phases(params: Params) -> tuple[str, ...]:
    """The phases the recipe runs, in order (names as in resume.PHASES)."""
    cfg = params.train
    if params.recipe == "scratch":
        return ("scratch",)
    return ("head", "fine_tune") if cfg.fine_tune_blocks and cfg.fine_tune_epochs else ("head",)


def phase_budget(cfg: TrainParams, phase: str) -> tuple[float, int]:
    """A phase's peak learning rate and its most epochs."""
    if phase == "fine_tune":
        return cfg.fine_tune_learning_rate, cfg.fine_tune_epochs
    return cfg.learning_rate, cfg.epochs


def learning_rate(cfg: TrainParams, phase: str, steps_per_epoch: int) -> float | object:
    """The phase's rate: a linear warm-up over train.warmup_epochs, then constant or Keras'
    cosine decay over the rest of the phase's most steps.

    The schedule reads the optimizer's step count, which the resume state restores, so a
    resumed phase continues the same curve.
    """
    peak, epochs = phase_budget(cfg, phase)
    warmup = round(cfg.warmup_epochs * steps_per_epoch)
    if not warmup and cfg.lr_schedule == "constant":
        return peak
    return keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else peak,
        decay_steps=max(epochs * steps_per_epoch - warmup, 1),
        alpha=1.0 if cfg.lr_schedule == "constant" else 0.0,  # alpha 1: no decay
        warmup_target=peak if warmup else None,
        warmup_steps=warmup,
    )


class LogLearningRate(keras.callbacks.Callback):
    """Adds the learning rate each epoch started at to its logs (the DVCLive curve): the
    schedule's value at the optimizer's step count, which a resumed run restores."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.rate = float(self.model.optimizer.learning_rate)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = self.rate


@dataclass(frozen=True)
class _Phase:
    """One fit: which model, on which examples (and their train.balance groups), over which
    epochs (numbered across phases)."""

    name: str
    model: keras.Model
    train: tf.data.Dataset  # unbatched: shuffled_epochs() batches it
    groups: Groups | None  # of train's records, in its order
    validation: tf.data.Dataset
    start: int
    end: int


def _fit_phase(
    phase: _Phase,
    cfg: TrainParams,
    devices: Devices,
    weights: dict[int, float] | None,
    callbacks: list[keras.callbacks.Callback],
    backup: Backup | None,
) -> int:
    """Compile (again: the trainable set may have changed) and fit one phase, from the epoch a
    killed run's snapshot reached if there is one.

    Returns the epoch count reached, which the next phase starts from.
    """
    steps = steps_per_epoch(phase.train, cfg.batch_size)
    rate = learning_rate(cfg, phase.name, steps)
    with devices.strategy.scope():
        phase.model.compile(
            optimizer=OPTIMIZERS[cfg.optimizer](
                learning_rate=rate, weight_decay=cfg.weight_decay or None
            ),
            loss=keras.losses.BinaryCrossentropy(label_smoothing=cfg.label_smoothing),
            metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
            jit_compile=devices.jit_compile,
        )
    stopping = ResumableEarlyStopping(
        monitor="val_loss", patience=cfg.early_stopping_patience, restore_best_weights=True
    )
    resumed = backup.resume_epoch(phase.name, phase.end) if backup else None
    first = phase.start if resumed is None else resumed
    draw = phase.groups.draw if phase.groups is not None else None
    phase.model.fit(
        shuffled_epochs(phase.train, cfg.batch_size, cfg.seed, first, phase.end, draw),
        steps_per_epoch=steps,
        validation_data=phase.validation,
        initial_epoch=first,
        epochs=phase.end,
        shuffle=False,  # shuffled_epochs() reshuffles each epoch, seeded by its number
        class_weight=weights,
        callbacks=[  # the rate first, so the others log this epoch's; the backup last
            LogLearningRate(),
            stopping,
            *callbacks,
            *([backup.callback(phase.name, stopping)] if backup else []),
        ],
        verbose=2,
    )
    return stopping.stopped_epoch + 1 if stopping.stopped_epoch else phase.end


def _features(model: keras.Model, dataset: tf.data.Dataset, batch: int) -> tf.data.Dataset:
    """(features, label) for every image of a split, from one pass through the frozen base."""
    labels, features = labelled_outputs(
        feature_extractor(model), batched(dataset, batch), "base features"
    )
    return tf.data.Dataset.from_tensor_slices((features, labels))


def _plan_phase(
    name: str,
    model: keras.Model,
    data: TrainingData,
    groups: Groups | None,
    cfg: TrainParams,
    devices: Devices,
    epoch: int,
) -> _Phase:
    """Phase 1 without augmentation trains the head alone on cached base features; every other
    phase trains the whole model on pixels."""
    batch = cfg.batch_size
    end = epoch + phase_budget(cfg, name)[1]
    if name == "head" and not cfg.augment_head:
        log.info("phase 1: computing the frozen base's features once (bottleneck cache)")
        head = head_of(model)
        # A new model over the head's layers trains them; the head itself is never
        # compiled, so the saved model carries no stale optimizer for it.
        with devices.strategy.scope():
            trainer = keras.Model(head.inputs, head.outputs, name="head_trainer")
        train = _features(model, data.train, batch)  # in data.train's order: the same groups
        validation = batched(_features(model, data.validation, batch), batch)
        return _Phase(name, trainer, train, groups, validation, epoch, end)
    return _Phase(name, model, data.train, groups, batched(data.validation, batch), epoch, end)


def train(
    params: Params,
    data: TrainingData,
    callbacks: list[keras.callbacks.Callback],
    backup: Backup | None = None,
    devices: Devices | None = None,
    groups: Groups | None = None,
) -> Classifier:
    """The recipe's phases, then the decision threshold chosen on validation; the classifier records
    what made it (provenance).

    Seeds come from train.seed; with train.deterministic, TensorFlow's ops are deterministic too,
    so the same params and data give the same model. With a backup, each completed epoch is
    saved in it and a rerun resumes from it. With `groups` (train.balance, sampling.read_groups)
    each group is drawn equally often; class weights still follow the split's class counts.
    """
    cfg = params.train
    devices = devices or resolve_devices(cfg)
    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
        if devices.jit_compile:
            log.warning("XLA stays off: Keras disables jit_compile under op determinism")
    weights = class_weights(data.info.classes, data.info.counts["train"], cfg.class_weights)
    if groups is not None:
        log.info("%s", groups.describe())
    with precision(devices.dtype_policy), devices.strategy.scope():
        model = build_model(
            data.info.image_size, params.model, cfg.augment, cfg.seed, recipe=params.recipe
        )
    epoch = 0
    for name in phases(params):
        if name == "fine_tune":
            log.info("phase 2: fine-tuning VGG16's top %d conv block(s)", cfg.fine_tune_blocks)
            with devices.strategy.scope():
                prepare_fine_tuning(model, cfg.fine_tune_blocks)
        done = backup.done(name) if backup else None
        if done is not None:
            log.info(
                "phase %s finished in an earlier run (epoch %d): resuming after it", name, done
            )
            backup.restore(name, model)
            epoch = done
            continue
        phase = _plan_phase(name, model, data, groups, cfg, devices, epoch)
        epoch = _fit_phase(phase, cfg, devices, weights, callbacks, backup)
        if backup:
            backup.finish(name, model, epoch)
    model = float32_model(model)  # what is saved, scored and used by predict (model_file.py)
    threshold = _threshold(model, data, cfg)
    made = provenance(devices, cfg, params.recipe, groups)
    info = ModelInfo(data.info.classes, threshold, data.info.framing, made)
    return Classifier(model, info)


def _threshold(model: keras.Model, data: TrainingData, cfg: TrainParams) -> float:
    if cfg.threshold != "validation":
        return cfg.threshold
    validation = batched(data.validation, cfg.batch_size)
    labels, probabilities = labelled_outputs(model, validation, "validation threshold")
    return choose_threshold(labels, probabilities.reshape(-1))

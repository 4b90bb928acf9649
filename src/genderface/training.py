"""Training: compile the model and fit it on the train split, validating each epoch."""

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from genderface.evaluation import choose_threshold, predict_dataset
from genderface.input_pipeline import ShardInfo, batched, load_split
from genderface.model import Classifier, build_model
from genderface.params import Params

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
}


@dataclass(frozen=True)
class TrainingData:
    """Batched train and validation splits, cached in memory as uint8 across epochs."""

    train: tf.data.Dataset
    validation: tf.data.Dataset
    info: ShardInfo

    @classmethod
    def from_shards(cls, shards_dir: Path, params: Params) -> "TrainingData":
        info = ShardInfo.read(shards_dir)
        batch = params.train.batch_size
        train = load_split(shards_dir, "train", info).cache()
        validation = load_split(shards_dir, "validation", info).cache()
        return cls(
            train=batched(train, batch, shuffle_seed=params.train.seed),
            validation=batched(validation, batch),
            info=info,
        )


def class_weights(classes: list[str], counts: dict[str, int], mode: str) -> dict[int, float] | None:
    """Weights inversely proportional to class frequency (scikit-learn's "balanced"), or None."""
    if mode == "none":
        return None
    labels = np.repeat(np.arange(len(classes)), [counts[name] for name in classes])
    weights = compute_class_weight("balanced", classes=np.arange(len(classes)), y=labels)
    return {i: float(w) for i, w in enumerate(weights)}


def train(
    params: Params, data: TrainingData, callbacks: list[keras.callbacks.Callback]
) -> tuple[Classifier, keras.callbacks.History]:
    """Build, compile and fit the model; seeds come from params.train.seed."""
    cfg = params.train
    keras.utils.set_random_seed(cfg.seed)
    model = build_model(data.info.image_size, params.model, cfg.augment, cfg.seed)
    model.compile(
        optimizer=OPTIMIZERS[cfg.optimizer](learning_rate=cfg.learning_rate),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
    )
    history = model.fit(
        data.train,
        validation_data=data.validation,
        epochs=cfg.epochs,
        shuffle=False,  # the train dataset reshuffles itself each epoch, seeded (batched())
        class_weight=class_weights(data.info.classes, data.info.counts["train"], cfg.class_weights),
        callbacks=callbacks,
        verbose=2,
    )
    threshold = cfg.threshold
    if threshold == "validation":
        threshold = choose_threshold(
            *predict_dataset(Classifier(model, data.info.classes, 0.5), data.validation)
        )
    return Classifier(model, data.info.classes, threshold), history

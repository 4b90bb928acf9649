"""Where training runs: distribution strategy, mixed precision and XLA, chosen from the machine.

One code path for a laptop CPU, a multi-GPU box (MirroredStrategy over every visible GPU) and a
cluster (MultiWorkerMirroredStrategy from TF_CONFIG); params can force precision and XLA either
way, and `auto` turns both on only when a GPU is present.
"""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import keras
import tensorflow as tf

from genderface.errors import GenderfaceError
from genderface.params import Switch, TrainParams


class MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """MultiWorkerMirroredStrategy that Keras 3's `fit` can drive.

    Keras 3 calls `strategy.reduce` with a nested (images, labels) batch and with axis=0 on scalar
    metrics (keras-team/keras#20585); the collective strategy only takes one tensor of rank >= 1.
    Reducing each element, with no axis for scalars, is what Keras means by both calls.
    """

    def reduce(self, reduce_op, value, axis):
        parent = super()

        def one(item: object) -> tf.Tensor:
            local = item.values[0] if isinstance(item, tf.distribute.DistributedValues) else item
            return parent.reduce(reduce_op, item, None if local.shape.rank == 0 else axis)

        return tf.nest.map_structure(one, value)


@dataclass(frozen=True)
class Devices:
    strategy: tf.distribute.Strategy
    mixed_precision: bool
    jit_compile: bool

    @property
    def is_chief(self) -> bool:
        """Only the chief writes the model and curves; other workers' copies are identical."""
        if not isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return True
        resolver = self.strategy.cluster_resolver
        return resolver.task_type in (None, "chief") or (
            resolver.task_type == "worker"
            and resolver.task_id == 0
            and "chief" not in resolver.cluster_spec().as_dict()
        )


def _switch(value: Switch, gpu: bool) -> bool:
    return gpu if value == "auto" else value


def resolve_devices(params: TrainParams) -> Devices:
    """TF_CONFIG set: one worker of a cluster; else every visible GPU; else the CPU."""
    gpus = tf.config.list_physical_devices("GPU")
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster")
    except (json.JSONDecodeError, AttributeError):
        raise GenderfaceError(
            "TF_CONFIG: not a JSON object with a cluster and a task; fix or unset it"
        ) from None
    if cluster:
        strategy: tf.distribute.Strategy = MultiWorkerStrategy()
    elif gpus:
        strategy = tf.distribute.MirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    return Devices(
        strategy=strategy,
        mixed_precision=_switch(params.mixed_precision, bool(gpus)),
        jit_compile=_switch(params.xla, bool(gpus)),
    )


@contextmanager
def precision(mixed: bool) -> Iterator[None]:
    """Build layers under mixed_float16 (float32 variables) or float32, then restore the policy."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16" if mixed else "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)

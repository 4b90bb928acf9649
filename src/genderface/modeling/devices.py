"""Where training runs: distribution strategy, mixed precision and XLA, chosen from the machine.

One code path for a laptop CPU, a multi-GPU box (MirroredStrategy over every visible GPU) and a
cluster (MultiWorkerMirroredStrategy from TF_CONFIG). Precision is a Keras dtype policy name:
`auto` picks mixed_float16 with a GPU, mixed_bfloat16 on a CPU with native bfloat16 (AVX512_BF16
or AMX; docs/performance.md has the measured gain), float32 otherwise.
XLA's `auto` turns it on only with a GPU. Params can force either. With train.deterministic, the
CPU kernels are pinned (`pin_cpu_kernels`) and `auto` stays float32 on a CPU, so the committed
lock is reproduced byte for byte on another CPU.
"""

import json
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import keras
import tensorflow as tf

from genderface.errors import GenderfaceError
from genderface.machine import BF16_CPU_FLAGS, this_machine
from genderface.params import Precision, Switch, TrainParams

log = logging.getLogger("devices")

# oneDNN, TensorFlow's CPU kernels, picks its code by instruction set (AVX2, AVX-512, AMX) and
# splits some sums over threads, so both change the bytes of a model from one CPU to another.
# Capped at AVX2 (every x86-64 CPU since 2013) with a fixed thread count, every such CPU runs the
# same kernels in the same order; docs/pipeline.md#reproducibility has the evidence and the cost.
ISA_ENV = "ONEDNN_MAX_CPU_ISA"
PORTABLE_ISA = "AVX2"
PORTABLE_THREADS = 2


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
    dtype_policy: str  # a Keras dtype policy name: float32 | mixed_bfloat16 | mixed_float16
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


def resolve_policy(
    setting: Precision, gpu: bool, flags: Iterable[str], deterministic: bool = False
) -> str:
    """train.mixed_precision -> a Keras dtype policy name; an explicit policy name wins.

    Deterministic CPU runs stay float32 under `auto`: bfloat16 kernels exist on some CPUs only.
    """
    if setting != "auto":
        return setting
    if gpu:
        return "mixed_float16"
    if deterministic:
        return "float32"
    return "mixed_bfloat16" if BF16_CPU_FLAGS & set(flags) else "float32"


def cpu_kernels(deterministic: bool) -> str:
    """What picks the CPU kernels of a run, as models/model.json records it."""
    if deterministic:
        return f"{PORTABLE_ISA}, {PORTABLE_THREADS} threads (train.deterministic)"
    machine = this_machine()
    bf16 = "yes" if machine.bfloat16 else "no"
    return f"this CPU's best: {machine.cpu_model}, {machine.cores} cores, bfloat16 {bf16}"


def pin_cpu_kernels(deterministic: bool) -> None:
    """At a stage's start, before TensorFlow's first op: with train.deterministic, oneDNN capped
    at AVX2 and a fixed intra-op thread count. Says in one line what the bytes depend on."""
    if deterministic:
        os.environ[ISA_ENV] = PORTABLE_ISA  # read by oneDNN when it makes its first kernel
        tf.config.threading.set_intra_op_parallelism_threads(PORTABLE_THREADS)
        log.info(
            "CPU kernels: %s: the same bytes on any x86-64 CPU with AVX2",
            cpu_kernels(deterministic),
        )
    else:
        log.info(
            "CPU kernels: %s: another CPU gives other bytes (train.deterministic: true pins them)",
            cpu_kernels(deterministic),
        )


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
    policy = resolve_policy(
        params.mixed_precision, bool(gpus), this_machine().flags, params.deterministic
    )
    log.info("precision: %s (train.mixed_precision: %s)", policy, params.mixed_precision)
    return Devices(
        strategy=strategy, dtype_policy=policy, jit_compile=_switch(params.xla, bool(gpus))
    )


@contextmanager
def precision(policy: str) -> Iterator[None]:
    """Build layers under a dtype policy (mixed ones keep float32 variables), then restore it."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)

"""What a model was made with: library versions, devices, and what `auto` settings resolved to.

Recorded in models/model.json beside the classes and threshold, and shown in the model card, so
a metric is never separated from how it was made. Deterministic: no times, hosts or paths; the
CPU is named only when it chose the kernels (train.deterministic false), so a deterministic run
records the same bytes on every CPU. train.balance's groups are recorded only when it has
columns, so a model drawn in proportion keeps the record it had before balancing existed.
"""

import platform
from importlib.metadata import version

import keras
import tensorflow as tf

from genderface.data.sampling import Groups
from genderface.modeling.devices import Devices, cpu_kernels
from genderface.params import TrainParams


def provenance(
    devices: Devices, params: TrainParams, recipe: str, groups: Groups | None = None
) -> dict:
    """The versions, devices, recipe and resolved precision, XLA and determinism of a training
    run, and the groups train.balance drew equally often with their train records.

    XLA is what took effect: Keras turns jit_compile off under op determinism.
    """
    gpus = tf.config.list_physical_devices("GPU")
    return {
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "dvc": version("dvc"),
        },
        "devices": {
            "kind": "GPU" if gpus else "CPU",
            "count": int(devices.strategy.num_replicas_in_sync),
            "cpu_kernels": cpu_kernels(params.deterministic),
        },
        "recipe": recipe,
        "mixed_precision": devices.dtype_policy,
        "xla": devices.jit_compile and not params.deterministic,
        "deterministic": params.deterministic,
        **({"balance": groups.as_dict()} if groups is not None else {}),
    }

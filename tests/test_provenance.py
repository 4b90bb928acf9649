"""models/model.json's provenance: versions, devices and the resolved settings, deterministic."""

import json
import platform
import socket
from importlib.metadata import version

import keras
import tensorflow as tf

from genderface.machine import this_machine
from genderface.modeling.devices import Devices, resolve_devices
from genderface.modeling.provenance import provenance


def test_records_versions_devices_and_resolved_settings(tiny_params):
    cfg = tiny_params.train
    devices = resolve_devices(cfg)
    record = provenance(devices, cfg, "scratch")
    assert record == {
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "dvc": version("dvc"),
        },
        "devices": {
            "kind": "CPU",
            "count": 1,
            "cpu_kernels": "AVX2, 2 threads (train.deterministic)",
        },
        "recipe": "scratch",
        "mixed_precision": devices.dtype_policy,  # what auto resolved to on this machine
        "xla": False,
        "deterministic": True,
    }
    assert devices.dtype_policy == "float32", "deterministic: auto is float32 on every CPU"
    assert provenance(resolve_devices(cfg), cfg, "scratch") == record, (
        "the same machine, the same record"
    )
    text = json.dumps(record)
    assert socket.gethostname() not in text


def test_xla_is_what_took_effect_and_precision_the_policy(tiny_params):
    strategy = tf.distribute.get_strategy()
    forced = Devices(strategy=strategy, dtype_policy="mixed_float16", jit_compile=True)
    deterministic = tiny_params.train
    fast = deterministic.model_copy(update={"deterministic": False})
    assert provenance(forced, deterministic, "transfer")["xla"] is False, (
        "Keras drops XLA under determinism"
    )
    record = provenance(forced, fast, "transfer")
    assert record["xla"] is True
    assert record["deterministic"] is False
    assert record["mixed_precision"] == "mixed_float16"
    assert record["devices"]["cpu_kernels"].startswith(
        f"this CPU's best: {this_machine().cpu_model}, "
    ), "the CPU is named where it chose the kernels"

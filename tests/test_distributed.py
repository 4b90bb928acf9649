"""The GPU code paths on CPU: MirroredStrategy over two logical devices, MultiWorkerMirroredStrategy
over two local worker processes, and mixed precision with XLA."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
import yaml

from genderface.machine import this_machine
from genderface.modeling.devices import resolve_devices, resolve_policy
from genderface.params import parse_params

from .conftest import REPO, TWO_PHASES, demo_training_data, free_ports, tiny_params_dict


def test_cpu_only_machine_trains_with_the_default_strategy_and_its_cpus_precision():
    for deterministic in (True, False):
        params = parse_params(tiny_params_dict(**{"train.deterministic": deterministic}))
        devices = resolve_devices(params.train)
        assert devices.strategy is tf.distribute.get_strategy()
        flags = this_machine().flags
        assert devices.dtype_policy == resolve_policy("auto", False, flags, deterministic)
        assert (devices.jit_compile, devices.is_chief) == (False, True)


XLA = textwrap.dedent(
    """
    import json, sys, warnings
    from pathlib import Path
    import keras
    import numpy as np
    from genderface.modeling.devices import resolve_devices
    from genderface.params import parse_params
    from genderface.modeling.training import train
    from tests.conftest import TWO_PHASES, demo_training_data, tiny_params_dict

    switches = {
        "train.mixed_precision": "mixed_float16", "train.xla": True, "train.deterministic": False
    }
    params = parse_params(tiny_params_dict(**TWO_PHASES, **switches))
    devices = resolve_devices(params.train)
    warnings.simplefilter("error", UserWarning)  # Keras warns when it drops jit_compile
    fitted = []
    probe = keras.callbacks.LambdaCallback(on_train_begin=lambda logs: fitted.append(probe.model))
    classifier = train(
        params, demo_training_data(Path(sys.argv[1]), params), [probe], devices=devices
    )
    out = classifier.model.predict_on_batch(np.full((2, 32, 32, 3), 90, np.float32))
    print(json.dumps({
        "switches": [devices.dtype_policy, devices.jit_compile],
        "jit_compile": fitted[-1].jit_compile,
        "dense": fitted[-1].get_layer("head").get_layer("head_dense").compute_dtype,
        "output": str(out.dtype),
        "finite": bool(np.isfinite(out).all()),
        "policy": keras.config.dtype_policy().name,
    }))
    """
)


def _run(script: str, *args: str) -> dict:
    """A script in a fresh interpreter (device and determinism settings are per process)."""
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_mixed_precision_and_xla_train_on_cpu(tmp_path):
    report = _run(XLA, str(tmp_path))
    assert report == {
        "switches": ["mixed_float16", True],
        "jit_compile": True,
        "dense": "float16",
        "output": "float32",
        "finite": True,
        "policy": "float32",
    }


MIRRORED = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from pathlib import Path
    from genderface.data.input_pipeline import batched
    from genderface.modeling.devices import Devices
    from genderface.modeling.forward import labelled_outputs
    from genderface.params import parse_params
    from genderface.modeling.training import train
    from tests.conftest import TWO_PHASES, demo_training_data, tiny_params_dict

    params = parse_params(tiny_params_dict(**TWO_PHASES))
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    devices = Devices(strategy, dtype_policy="float32", jit_compile=False)
    data = demo_training_data(Path(sys.argv[1]), params)
    classifier = train(params, data, [], devices=devices)
    kernel = classifier.model.get_layer("head").get_layer("head_dense").kernel
    labels, probabilities = labelled_outputs(classifier.model, batched(data.validation, 64), "")
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "mirrored": type(kernel.value).__name__,
        "threshold": classifier.threshold,
        "labels": labels.astype(int).tolist(),
        "probabilities": probabilities.reshape(-1).astype(float).tolist(),
    }))
    """
)


@pytest.mark.slow
def test_mirrored_strategy_over_two_logical_cpus(tmp_path):
    report = _run(MIRRORED, str(tmp_path))
    assert report["replicas"] == 2
    assert report["mirrored"] == "MirroredVariable", "trained under the strategy it was given"
    # the threshold chosen on validation: of every cut-off, one with the best balanced accuracy
    labels, scores = np.array(report["labels"]), np.array(report["probabilities"])
    assert len(labels) == 4 and set(labels) == {0, 1}  # the tiny demo's validation split

    def balanced(threshold: float) -> float:
        said = scores >= threshold
        return (said[labels == 1].mean() + (~said[labels == 0]).mean()) / 2

    best = max(balanced(cut) for cut in [*scores, 1.0 + 1e-9])
    assert balanced(report["threshold"]) == pytest.approx(best, abs=1e-6)


@pytest.mark.slow
def test_multi_worker_training_with_two_local_workers(tmp_path):
    """Two `python stages/train.py` processes on 127.0.0.1 ports, as docs/training.md shows for a
    cluster: both train in lockstep, only the chief (worker 0) writes the model and curves."""
    params = tiny_params_dict(**TWO_PHASES, **{"train.epochs": 2, "train.fine_tune_epochs": 1})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    demo_training_data(tmp_path / "data", parse_params(params))
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    workers = [
        subprocess.Popen(
            [sys.executable, str(REPO / "stages" / "train.py")],
            cwd=tmp_path,
            env={
                **os.environ,
                "TF_CONFIG": json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": i}}
                ),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    logs = [worker.communicate(timeout=600)[0] for worker in workers]
    for worker, log in zip(workers, logs, strict=True):
        assert worker.returncode == 0, log[-3000:]
        assert "Epoch 3/3" in log
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["model.json", "model.keras"]
    summary = json.loads((tmp_path / "metrics/train/metrics.json").read_text())
    assert summary["step"] == 2
    assert not (tmp_path / "data/train-backup").exists()


def test_a_malformed_tf_config_is_one_clear_error(monkeypatch):
    from genderface.errors import GenderfaceError

    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(GenderfaceError, match="TF_CONFIG: not a JSON object"):
        resolve_devices(parse_params(tiny_params_dict()).train)

"""Precision chosen from the machine (CPU flags supplied), and a bfloat16-trained model saved in
float32."""

import json

import keras
import numpy as np
import pytest

from genderface.errors import GenderfaceError
from genderface.machine import this_machine
from genderface.modeling.devices import resolve_policy
from genderface.modeling.model import head_of
from genderface.modeling.model_file import load_classifier, save_classifier
from genderface.params import parse_params

from .conftest import TWO_PHASES, demo_training_data, tiny_params_dict

PLAIN_CPU = {"fpu", "sse2", "avx2", "fma", "avx512f", "avx512_vnni"}


@pytest.mark.parametrize(
    ("setting", "gpu", "flags", "expected"),
    [
        ("auto", False, PLAIN_CPU | {"avx512_bf16"}, "mixed_bfloat16"),
        ("auto", False, PLAIN_CPU | {"amx_bf16", "amx_tile"}, "mixed_bfloat16"),
        ("auto", False, PLAIN_CPU, "float32"),
        ("auto", False, set(), "float32"),
        ("auto", True, PLAIN_CPU | {"avx512_bf16"}, "mixed_float16"),
        ("auto", True, PLAIN_CPU, "mixed_float16"),
        ("float32", False, PLAIN_CPU | {"avx512_bf16"}, "float32"),
        ("float32", True, PLAIN_CPU, "float32"),
        ("mixed_bfloat16", False, PLAIN_CPU, "mixed_bfloat16"),
        ("mixed_float16", False, PLAIN_CPU | {"avx512_bf16"}, "mixed_float16"),
    ],
)
def test_auto_resolves_from_the_machine_and_an_explicit_policy_wins(setting, gpu, flags, expected):
    assert resolve_policy(setting, gpu, flags) == expected


def test_the_machine_is_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Some CPU @ 2.0GHz\nflags\t\t: fpu sse2 avx512_bf16\n"
        "bugs\t\t: spectre_v1\n\nprocessor\t: 1\nmodel name\t: Some CPU @ 2.0GHz\n"
        "flags\t\t: fpu sse2 avx512_bf16\n"
    )
    machine = this_machine(cpuinfo)
    assert machine.flags == {"fpu", "sse2", "avx512_bf16"}
    assert machine.cpu_model == "Some CPU @ 2.0GHz"
    assert machine.bfloat16
    assert machine.line().startswith("machine: Some CPU @ 2.0GHz, ")
    assert "bfloat16 yes" in machine.line()
    absent = this_machine(tmp_path / "absent")
    assert absent.flags == frozenset(), "no /proc/cpuinfo: auto stays float32"
    assert not absent.bfloat16
    assert "bfloat16 no" in absent.line()


@pytest.mark.parametrize(
    ("gpu", "flags", "expected"),
    [
        (False, PLAIN_CPU | {"avx512_bf16", "amx_bf16"}, "float32"),
        (False, PLAIN_CPU, "float32"),
        (True, PLAIN_CPU, "mixed_float16"),
    ],
)
def test_deterministic_auto_stays_float32_on_every_cpu(gpu, flags, expected):
    assert resolve_policy("auto", gpu, flags, deterministic=True) == expected


def test_bfloat16_is_refused_where_the_bytes_must_repeat():
    with pytest.raises(GenderfaceError, match=r"mixed_bfloat16 needs deterministic: false"):
        parse_params(tiny_params_dict(**{"train.mixed_precision": "mixed_bfloat16"}))
    parse_params(
        tiny_params_dict(
            **{"train.mixed_precision": "mixed_bfloat16", "train.deterministic": False}
        )
    )


@pytest.mark.parametrize("value", [True, "bfloat16", "mixed"])
def test_mixed_precision_takes_keras_policy_names(value):
    with pytest.raises(GenderfaceError, match=r"train\.mixed_precision: Input should be 'auto'"):
        parse_params(tiny_params_dict(**{"train.mixed_precision": value}))


def _compute_dtypes(model: keras.Model) -> dict[str, str]:
    """Every leaf layer's compute dtype, by name, through nested models."""
    dtypes = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            dtypes |= _compute_dtypes(layer)
        else:
            dtypes[layer.name] = layer.compute_dtype
    return dtypes


class PolicyProbe(keras.callbacks.Callback):
    """Records, per phase, the compute dtypes of the model being fit."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, str]] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.seen.append(_compute_dtypes(self.model))


@pytest.mark.slow
def test_a_model_trained_under_mixed_bfloat16_is_saved_and_predicts_in_float32(tmp_path):
    from genderface.modeling.training import train

    params = parse_params(
        tiny_params_dict(
            **TWO_PHASES,
            **{"train.mixed_precision": "mixed_bfloat16", "train.deterministic": False},
        )
    )
    probe = PolicyProbe()
    classifier = train(params, demo_training_data(tmp_path, params), [probe])
    head, fine_tune = probe.seen
    assert (head["head_dense"], head["probability"]) == ("bfloat16", "float32")
    assert (fine_tune["block5_conv3"], fine_tune["probability"]) == ("bfloat16", "float32")
    assert keras.config.dtype_policy().name == "float32", "the global policy is restored"

    save_classifier(classifier, tmp_path / "models" / "model.keras")
    sidecar = json.loads((tmp_path / "models" / "model.json").read_text())
    assert sidecar["provenance"]["mixed_precision"] == "mixed_bfloat16"
    loaded = load_classifier(tmp_path / "models" / "model.keras")
    assert set(_compute_dtypes(loaded.model).values()) == {"float32"}
    assert head_of(loaded.model).get_layer("probability").compute_dtype == "float32"
    pixels = np.random.default_rng(1).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    out = loaded.model.predict_on_batch(pixels)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, classifier.model.predict_on_batch(pixels))

"""The export stage: models/model.tflite converted from the Keras model, reproducibly, and
checked against it before anything is written."""

import json
import shutil

import numpy as np
import pytest

from genderface.data.shards import ShardInfo
from genderface.errors import GenderfaceError
from genderface.modeling import export
from genderface.modeling.export import Parity, check_float_parity, parity
from genderface.modeling.forward import forward_pass
from genderface.modeling.litert_model import LiteModel, load_lite_classifier
from genderface.modeling.model_file import load_classifier
from genderface.params import ExportParams

from .conftest import PARITY_TOLERANCE, run_stage, write_params


def _pixels(count: int, size: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (count, size, size, 3)).astype(np.float32)


def test_converting_twice_gives_the_same_bytes_and_the_keras_model_s_outputs(
    trained_model, exported_model
):
    model = load_classifier(trained_model).model
    content = export.convert(model)
    assert content == exported_model.read_bytes()  # converted in another call, same bytes
    assert content[4:8] == b"TFL3"  # the TF-Lite flatbuffer's identifier
    pixels = _pixels(5, 32)
    lite = LiteModel(content)
    for batch in (pixels, pixels[:2], pixels):  # the batch dimension is resized as needed
        keras_outputs = forward_pass(model)(batch)
        assert lite(batch).shape == keras_outputs.shape == (len(batch), 1)
        assert np.abs(lite(batch) - keras_outputs).max() <= PARITY_TOLERANCE
    assert len(set(lite(pixels).ravel().tolist())) > 1


def test_the_exported_model_reads_its_sidecar(trained_model, exported_model):
    lite = load_lite_classifier(exported_model)
    keras_model = load_classifier(trained_model)
    assert (lite.image_size, lite.info) == (keras_model.image_size, keras_model.info)


@pytest.mark.parametrize("case", ["missing", "truncated"])
def test_a_bad_tflite_file_is_one_line(exported_model, tmp_path, case):
    model = tmp_path / "model.tflite"
    shutil.copy(exported_model.with_suffix(".json"), tmp_path / "model.json")
    expected = f"{model}: model file not found; run `dvc repro` first"
    if case == "truncated":
        model.write_bytes(exported_model.read_bytes()[:5000])
        expected = f"{model}: cannot load the model (ValueError); rebuild it with dvc repro"
    with pytest.raises(GenderfaceError) as err:
        load_lite_classifier(model)
    assert str(err.value) == expected


def test_parity_counts_label_changes_and_fails_beyond_the_tolerance():
    keras = np.array([0.1, 0.5, 0.50001, 0.9, 0.49])
    lite = np.array([0.1, 0.49999, 0.50001, 0.9, 0.51])
    result = parity(keras, lite, threshold=0.5)
    assert result.max_abs_difference == pytest.approx(0.02)
    assert result.labels_changed == 2  # 0.5 -> 0.49999 (on the cut) and 0.49 -> 0.51
    with pytest.raises(GenderfaceError, match=r"by up to 0\.02 .*changing 2 label"):
        check_float_parity(result)
    on_the_cut = parity(keras[:4], lite[:4], threshold=0.5)
    assert (on_the_cut.max_abs_difference, on_the_cut.labels_changed) == (
        pytest.approx(1e-5),
        1,
    )
    check_float_parity(on_the_cut)  # within the tolerance: only an image at the threshold moved
    assert parity(keras, keras, threshold=0.5) == Parity(0.0, 0)


def test_export_json_records_the_tolerance_the_float_model_passed():
    """Two CPUs' last digits (2.2e-06 on one, 1.5e-06 on another) give the same committed file."""
    for exact in (2.2e-06, 1.5e-06, 0.0):
        assert Parity(exact, 0).checked() == {
            "max_abs_difference_within": PARITY_TOLERANCE,
            "labels_changed": 0,
        }


def test_the_parity_check_allows_the_promised_tolerance_and_no_more():
    keras = np.array([0.2, 0.8])
    check_float_parity(parity(keras, keras + 0.99 * PARITY_TOLERANCE, threshold=0.5))
    beyond = parity(keras, keras + 1.01 * PARITY_TOLERANCE, threshold=0.5)
    with pytest.raises(GenderfaceError, match=r"allowed 0\.0001\), changing 0 label"):
        check_float_parity(beyond)


def _export_workdir(trained_model, work):
    """What export reads: the shards and the model, as dvc repro leaves them."""
    shutil.copytree(trained_model.parent.parent / "shards", work / "data" / "shards")
    shutil.copytree(trained_model.parent, work / "models")


def test_a_model_the_converter_changed_fails_the_stage_and_writes_nothing(
    trained_model, tmp_path, monkeypatch
):
    """A converter that quietly changes the model (here: the output's bias moved by 1 in what it
    converts) is caught on the validation split, with one line, before any file is written."""
    _export_workdir(trained_model, tmp_path)
    convert = export.convert

    def changed(model, quantize="none"):
        dense = model.get_layer("head").get_layer("probability")
        kernel, bias = dense.get_weights()
        dense.set_weights([kernel, bias + 1.0])
        try:
            return convert(model, quantize)
        finally:
            dense.set_weights([kernel, bias])

    monkeypatch.setattr(export, "convert", changed)
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "models" / "model.tflite"
    params = ExportParams(quantize="none", bootstrap=100, seed=0)
    with pytest.raises(GenderfaceError, match=r"^the TF-Lite model's probabilities differ"):
        export.export_model(
            tmp_path / "models/model.keras", tmp_path / "data/shards", target, params
        )
    assert not target.exists()
    assert not (tmp_path / "models" / "quantized").exists()
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["model.json", "model.keras"]


@pytest.mark.slow  # a stage process: TensorFlow, two conversions
def test_export_stage_writes_the_model_its_check_and_the_quantized_model(trained_model, tmp_path):
    _export_workdir(trained_model, tmp_path)
    write_params(tmp_path, **{"export.quantize": "dynamic", "export.bootstrap": 200})
    result = run_stage("export", tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "metrics/export.json").read_text())
    model = tmp_path / "models/model.tflite"
    assert report["file"] == "models/model.tflite"
    assert report["bytes"] == model.stat().st_size
    validation = ShardInfo.read(tmp_path / "data/shards").size("validation")
    assert (report["split"], report["images"]) == ("validation", validation)
    threshold = json.loads((tmp_path / "models/model.json").read_text())["threshold"]
    assert report["threshold"] == threshold
    assert report["parity"] == {"max_abs_difference_within": PARITY_TOLERANCE, "labels_changed": 0}
    quantized = report["quantized"]
    smaller = tmp_path / "models/quantized/model-dynamic.tflite"
    assert quantized["file"] == "models/quantized/model-dynamic.tflite"
    assert quantized["bytes"] == smaller.stat().st_size < report["bytes"] / 3  # int8 weights
    # agreement: the share of validation labels the smaller model leaves as they were
    changed = quantized["parity"]["labels_changed"]
    assert quantized["agreement"] == pytest.approx(1 - changed / report["images"])
    interval = quantized["balanced_accuracy"]
    assert interval["low"] <= interval["estimate"] <= interval["high"]
    assert load_lite_classifier(smaller).info == load_lite_classifier(model).info
    assert f"{report['file']} (" in result.stderr  # the stage's summary line

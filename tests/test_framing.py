"""One framing from preprocess to predict: params -> shards -> model.json -> predict's default."""

import json

import pytest

from genderface.commands.predict import chosen_framing
from genderface.data.framing import UNRECORDED_MARGIN, Framing
from genderface.errors import GenderfaceError
from genderface.modeling.model_info import ModelInfo
from genderface.params import parse_params

from .conftest import tiny_params_dict


def test_params_name_the_framing_and_its_one_margin():
    data = parse_params(tiny_params_dict(**{"data.face_margin": 0.35})).data
    assert Framing.of(data) == Framing("face", 0.35)
    whole = parse_params(tiny_params_dict(**{"data.framing": "whole"})).data
    assert Framing.of(whole).crops is False


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("data.framing", "crop", "data.framing: Input should be 'face' or 'whole'"),
        ("data.face_margin", -0.1, "data.face_margin: Input should be greater than or equal to 0"),
        ("evaluate.face_margin", 0.2, "evaluate.face_margin: unknown key"),
    ],
)
def test_bad_framing_params_fail_naming_the_key(key, value, message):
    with pytest.raises(GenderfaceError, match=message):
        parse_params(tiny_params_dict(**{key: value}))


def test_the_sidecar_carries_the_framing_and_an_old_one_means_the_whole_picture(tmp_path):
    model = tmp_path / "model.keras"
    model.write_bytes(b"")  # the sidecar is read only beside a model file; its content is not read
    ModelInfo(["man", "woman"], 0.4, Framing("face", 0.35)).write(model)
    sidecar = json.loads((tmp_path / "model.json").read_text())
    assert sidecar["framing"] == {"kind": "face", "margin": 0.35}
    assert ModelInfo.read(model).framing == Framing("face", 0.35)
    del sidecar["framing"]
    (tmp_path / "model.json").write_text(json.dumps(sidecar))
    assert ModelInfo.read(model).framing == Framing("whole", UNRECORDED_MARGIN)


def test_predict_frames_as_the_model_unless_told():
    trained = Framing("face", 0.35)
    assert chosen_framing(trained, None, None) == trained
    assert chosen_framing(trained, False, None) == Framing("whole", 0.35)
    assert chosen_framing(trained, None, 0.5) == Framing("face", 0.5)
    assert chosen_framing(Framing("whole", 0.2), True, None) == Framing("face", 0.2)


def test_describe_says_what_the_model_expects():
    assert "0.35 of the face box's side" in Framing("face", 0.35).describe()
    assert Framing("whole", 0.35).describe() == "the whole picture, resized to a square"

import pytest

from genderface.errors import GenderfaceError
from genderface.params import NO_INPUT, load_params, parse_params

from .conftest import ARCHIVE, REPO, tiny_params_dict


def test_project_params_yaml_is_valid():
    params = load_params(REPO / "params.yaml")
    assert list(params.data.sources) == ["archive"]
    assert params.data.sources["archive"].source == "demo"
    assert params.model.weights == "none"
    total = params.split.train + params.split.test + params.split.validation
    assert total == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"train.epochs": 0}, "train.epochs: Input should be greater than or equal to 1 (got 0)"),
        ({"train.epochs": -3}, "train.epochs: Input should be greater than or equal to 1 (got -3)"),
        ({"train.epochs": "many"}, "train.epochs: Input should be a valid integer"),
        (
            {"train.augment.flipp": True},
            "train.augment.flipp: unknown key; remove it or check its spelling",
        ),
        (
            {"train.optimizer": "adamw"},
            "train.optimizer: Input should be 'adam', 'sgd' or 'rmsprop'",
        ),
        ({"model.dropout": 1.5}, "model.dropout: Input should be less than 1"),
        ({"split.train": 0.8}, "split: Value error, train + test + validation must be 1, got 1.1"),
    ],
)
def test_bad_params_name_the_key(overrides, expected):
    with pytest.raises(GenderfaceError) as info:
        parse_params(tiny_params_dict(**overrides))
    assert str(info.value).startswith(f"params.yaml: {expected}")
    assert "\n" not in str(info.value)


def test_missing_section_is_reported(tmp_path):
    raw = tiny_params_dict()
    del raw["evaluate"]
    with pytest.raises(GenderfaceError, match="evaluate: Field required"):
        parse_params(raw)


def test_load_params_reports_missing_and_broken_files(tmp_path):
    with pytest.raises(GenderfaceError, match="not found"):
        load_params(tmp_path / "params.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("data: [unclosed\n")
    with pytest.raises(GenderfaceError, match="not valid YAML"):
        load_params(broken)


def test_path_parameters_name_the_placeholder_unless_read():
    params = parse_params(tiny_params_dict())
    assert (
        params.data.sources["archive"].read,
        params.model.vgg16_weights,
        params.evaluate.external,
    ) == (
        "demo",
        "none",
        None,  # NO_INPUT turns the external folder off
    )
    params = parse_params(
        tiny_params_dict(
            **{
                f"{ARCHIVE}.source": "path",
                f"{ARCHIVE}.path": "faces.zip",
                "model.weights": "file",
            },
            **{"model.weights_file": "vgg.h5", "evaluate.external": "other"},
        )
    )
    assert (
        params.data.sources["archive"].read,
        params.model.vgg16_weights,
        params.evaluate.external,
    ) == (
        "faces.zip",
        "vgg.h5",
        "other",
    )
    kaggle = parse_params(tiny_params_dict(**{f"{ARCHIVE}.source": "kaggle:a/b"}))
    assert kaggle.data.sources["archive"].read == "kaggle:a/b"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {f"{ARCHIVE}.source": "faces.zip"},
            f"{ARCHIVE}.source: Value error, expected demo, kaggle:<owner>/<slug>[/versions/N], "
            "or path (with path naming the archive or folder, so DVC tracks its content) "
            "(got 'faces.zip')",
        ),
        (
            {f"{ARCHIVE}.source": "path"},
            f"{ARCHIVE}: Value error, source is path: set path to the archive or folder to read",
        ),
        ({f"{ARCHIVE}.path": "faces.zip"}, f"{ARCHIVE}: Value error, path is read only when"),
        ({"model.weights": "file"}, "model: Value error, model.weights is file: set"),
        (
            {"model.weights_file": "vgg16.h5"},
            "model: Value error, model.weights_file is read only when model.weights is file; "
            "set that, or model.weights_file back to inputs/none",
        ),
        (
            {"model.weights": "vgg.h5"},
            "model.weights: Input should be 'imagenet', 'none' or 'file'",
        ),
        ({"evaluate.external": ""}, f"evaluate.external: Value error, a folder, or {NO_INPUT}"),
    ],
)
def test_path_parameters_that_dvc_could_not_track_are_refused(overrides, expected):
    with pytest.raises(GenderfaceError) as info:
        parse_params(tiny_params_dict(**overrides))
    assert str(info.value).startswith(f"params.yaml: {expected}")
    assert "{" not in str(info.value)  # a model-level error does not dump the section


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"data.sources": {}},
            "data.sources: Dictionary should have at least 1 item after validation",
        ),
        (
            {f"{ARCHIVE}.labels": "csv"},
            f"{ARCHIVE}: Value error, labels_file names the labels CSV exactly when labels is csv",
        ),
        (
            {f"{ARCHIVE}.labels_file": "labels.csv"},
            f"{ARCHIVE}: Value error, labels_file names the labels CSV exactly when labels is csv",
        ),
        (
            {f"{ARCHIVE}.labels": "utkface"},
            f"{ARCHIVE}: Value error, the demo source is laid out as folders",
        ),
        ({f"{ARCHIVE}.folder": "../up"}, f"{ARCHIVE}.folder: Value error, must be a path inside"),
        ({f"{ARCHIVE}.labels": "names"}, f"{ARCHIVE}.labels: Input should be 'folders'"),
        ({f"{ARCHIVE}.licence": ""}, f"{ARCHIVE}.licence: String should have at least 1"),
        ({f"{ARCHIVE}.url": "x"}, f"{ARCHIVE}.url: unknown key"),
        ({"train.balance": ["source", "source"]}, "train.balance: Value error, names a column"),
        ({"train.balance": ["sha256"]}, "train.balance: Value error, 'sha256' is not a group"),
        (
            {"train.balance": ["label"]},
            "train: Value error, balance draws every class equally often already; set "
            "class_weights none",
        ),
    ],
)
def test_bad_sources_and_balance_name_the_key(overrides, expected):
    with pytest.raises(GenderfaceError) as info:
        parse_params(tiny_params_dict(**overrides))
    assert str(info.value).startswith(f"params.yaml: {expected}")
    assert "\n" not in str(info.value)


def test_sources_keep_their_order_and_names_must_name_a_stage():
    raw = tiny_params_dict()
    utkface = {
        "source": "path",
        "path": "utk.zip",
        "folder": "UTKFace",
        "labels": "utkface",
        "labels_file": "",
        "licence": "non-commercial research only",
    }
    raw["data"]["sources"]["utkface"] = utkface
    assert list(parse_params(raw).data.sources) == ["archive", "utkface"]
    raw["data"]["sources"] = {"UTK Face": utkface}
    with pytest.raises(GenderfaceError, match="source name 'UTK Face': use lower-case letters"):
        parse_params(raw)

"""params.yaml parsed once into typed, validated objects: a bad key fails before any work."""

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from genderface.errors import GenderfaceError

PARAMS_FILE = Path("params.yaml")
NO_INPUT = "inputs/none"
"""What a path parameter names when nothing is to be read there. dvc.yaml lists every path
parameter as a dependency (`${item.path}` of each source, ...) so DVC tracks the file by
content, and a dependency must be a real path: this committed placeholder is one that never
changes."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DemoParams(_Section):
    """The synthetic offline dataset: images per class (the real archive's 65/35 ratio)."""

    man: int = Field(ge=10, le=100_000)
    woman: int = Field(ge=10, le=100_000)
    size: int = Field(ge=16, le=512)
    seed: int = Field(ge=0)


def _path_read_when(selected: bool, selector: str, key: str, path: str, what: str) -> None:
    """A path parameter is set exactly when its selector asks for it, so dvc.lock records only
    files the pipeline read."""
    if selected and path == NO_INPUT:
        raise ValueError(f"{selector}: set {key} to {what}")
    if not selected and path != NO_INPUT:
        raise ValueError(
            f"{key} is read only when {selector}; set that, or {key} back to {NO_INPUT}"
        )


SOURCE_NAME = r"^[a-z][a-z0-9_-]*$"
"""A source's name keys its DVC stages (download@<name>), data/raw/<name> and its metrics."""

Labels = Literal["folders", "utkface", "csv"]


class SourceParams(_Section):
    """One labelled dataset: where it comes from and how its labels are read."""

    source: str = Field(
        min_length=1, description="demo | kaggle:<owner>/<slug>[/versions/N] | path"
    )
    path: str = Field(min_length=1, description="archive or folder read when source is path")
    folder: str = Field(
        description="sub-folder of the download holding the images ('' = the whole of it)"
    )
    labels: Labels = Field(
        description="folders: faces/<class>/<image>; utkface: age_gender_race_date names; "
        "csv: labels_file"
    )
    labels_file: str = Field(
        description="with labels csv: file,label[,attribute...] relative to the folder"
    )
    licence: str = Field(min_length=1, description="the dataset's terms, shown in the model card")

    @field_validator("source")
    @classmethod
    def _known_source(cls, source: str) -> str:
        if source in ("demo", "path") or source.startswith("kaggle:"):
            return source
        raise ValueError(
            "expected demo, kaggle:<owner>/<slug>[/versions/N], or path (with path naming the "
            "archive or folder, so DVC tracks its content)"
        )

    @field_validator("folder", "labels_file")
    @classmethod
    def _relative(cls, value: str) -> str:
        if Path(value).is_absolute() or ".." in Path(value).parts:
            raise ValueError("must be a path inside the source (relative, no ..)")
        return value

    @model_validator(mode="after")
    def _path_when_source_is_path(self) -> "SourceParams":
        selected = self.source == "path"
        what = "the archive or folder to read"
        _path_read_when(selected, "source is path", "path", self.path, what)
        return self

    @model_validator(mode="after")
    def _labels_file_with_csv(self) -> "SourceParams":
        if (self.labels == "csv") != bool(self.labels_file):
            raise ValueError(
                "labels_file names the labels CSV exactly when labels is csv; set both, or "
                "labels_file to ''"
            )
        if self.source == "demo" and (self.labels != "folders" or self.folder):
            raise ValueError(
                "the demo source is laid out as folders; set labels folders, folder ''"
            )
        return self

    @property
    def read(self) -> str:
        """What its download reads: demo, kaggle:<handle>, or the path."""
        return self.path if self.source == "path" else self.source


class DataParams(_Section):
    sources: dict[str, SourceParams] = Field(
        min_length=1, description="every labelled dataset trained on, by name, in order"
    )
    image_size: int = Field(ge=32, le=512)
    framing: Literal["face", "whole"] = Field(
        description="face: every image cropped around its face (data/faces.py); whole: as is"
    )
    face_margin: float = Field(
        ge=0, le=2, description="with framing face: added to the face box on every side"
    )
    demo: DemoParams

    @field_validator("sources")
    @classmethod
    def _names(cls, sources: dict[str, SourceParams]) -> dict[str, SourceParams]:
        for name in sources:
            if not re.fullmatch(SOURCE_NAME, name):
                raise ValueError(
                    f"source name {name!r}: use lower-case letters, digits, - and _ "
                    "(it names a DVC stage and a folder)"
                )
        return sources


class SplitParams(_Section):
    seed: int = Field(ge=0)
    train: float = Field(gt=0, lt=1)
    test: float = Field(gt=0, lt=1)
    validation: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> "SplitParams":
        total = self.train + self.test + self.validation
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"train + test + validation must be 1, got {total:g}")
        return self


class PreprocessParams(_Section):
    images_per_shard: int = Field(ge=1)


class ModelParams(_Section):
    weights: Literal["imagenet", "none", "file"]
    weights_file: str = Field(
        min_length=1, description="VGG16 no-top weights .h5 file read when weights is file"
    )
    pooling: Literal["avg", "flatten"]
    head_units: int = Field(ge=1)
    dropout: float = Field(ge=0, lt=1)
    l2: float = Field(ge=0)
    batch_norm: bool = Field(
        description="batch normalisation after every conv layer of VGG16 (weights none only)"
    )

    @model_validator(mode="after")
    def _file_when_weights_is_file(self) -> "ModelParams":
        selected = self.weights == "file"
        what = "a VGG16 no-top weights .h5 file"
        _path_read_when(
            selected, "model.weights is file", "model.weights_file", self.weights_file, what
        )
        return self

    @model_validator(mode="after")
    def _batch_norm_from_scratch(self) -> "ModelParams":
        if self.batch_norm and self.weights != "none":
            raise ValueError(
                f"batch_norm: VGG16's {self.weights} weights have no batch normalisation; "
                "set batch_norm false, or weights none"
            )
        return self

    @property
    def vgg16_weights(self) -> str:
        """imagenet, none, or the weights file to load."""
        return self.weights_file if self.weights == "file" else self.weights


class AugmentParams(_Section):
    flip: bool
    rotation: float = Field(ge=0, le=1, description="fraction of a full turn")
    shear: float = Field(ge=0, lt=0.25, description="maximum shear angle, fraction of a full turn")
    zoom: float = Field(ge=0, lt=1)
    translation: float = Field(ge=0, lt=1)
    contrast: float = Field(ge=0, le=1)


Switch = Literal["auto"] | bool
# A Keras dtype policy name, or auto: chosen from the machine (devices.resolve_policy).
Precision = Literal["auto", "float32", "mixed_bfloat16", "mixed_float16"]


Recipe = Literal["auto", "transfer", "scratch"]


class TrainParams(_Section):
    """The transfer recipe trains the head on a frozen base (epochs, learning_rate), then
    fine-tunes the top blocks; the scratch recipe trains every layer at once (epochs,
    learning_rate)."""

    seed: int = Field(ge=0)
    deterministic: bool = Field(
        description="op determinism and pinned CPU kernels: the same bytes on any x86-64 CPU"
    )
    recipe: Recipe = Field(description="auto: scratch with model.weights none, else transfer")
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    learning_rate: float = Field(gt=0)
    warmup_epochs: float = Field(ge=0, description="linear warm-up of each phase's rate")
    weight_decay: float = Field(ge=0, lt=1, description="decoupled, as AdamW")
    label_smoothing: float = Field(ge=0, lt=0.5)
    optimizer: Literal["adam", "sgd", "rmsprop"]
    class_weights: Literal["balanced", "none"]
    balance: list[str] = Field(
        description="manifest columns (source, label, an attribute) whose every combination of "
        "values is drawn equally often in training; [] draws in proportion"
    )
    augment_head: bool
    fine_tune_blocks: int = Field(ge=0, le=5)
    fine_tune_epochs: int = Field(ge=0)
    fine_tune_learning_rate: float = Field(gt=0)
    lr_schedule: Literal["cosine", "constant"]
    early_stopping_patience: int = Field(ge=1)
    threshold: Literal["validation"] | float = Field(union_mode="left_to_right")
    mixed_precision: Precision
    xla: Switch
    augment: AugmentParams

    @model_validator(mode="after")
    def _threshold_in_range(self) -> "TrainParams":
        if isinstance(self.threshold, float) and not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be 'validation' or in (0, 1), got {self.threshold}")
        return self

    @field_validator("balance")
    @classmethod
    def _balance_columns(cls, balance: list[str]) -> list[str]:
        if len(set(balance)) != len(balance):
            raise ValueError("names a column twice; name each once")
        unknown = [c for c in balance if c in ("path", "sha256", "split") or not c]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a group; use source, label or an attribute")
        return balance

    @model_validator(mode="after")
    def _one_class_balance(self) -> "TrainParams":
        if "label" in self.balance and self.class_weights == "balanced":
            raise ValueError(
                "balance draws every class equally often already; set class_weights none, or "
                "leave label out of balance"
            )
        return self

    @model_validator(mode="after")
    def _bfloat16_is_not_portable(self) -> "TrainParams":
        if self.deterministic and self.mixed_precision == "mixed_bfloat16":
            raise ValueError(
                "mixed_bfloat16 needs deterministic: false (bfloat16 kernels exist on some CPUs "
                "only, so its bytes cannot repeat on another); or use mixed_precision auto"
            )
        return self


class EvaluateParams(_Section):
    batch_size: int = Field(ge=1)
    calibration_bins: int = Field(
        ge=2, le=100, description="equal-width bins for the calibration curve and ECE"
    )
    mistakes: int = Field(ge=0, le=100, description="most confident test mistakes in the gallery")
    bootstrap: int = Field(ge=100, le=100_000, description="resamples for the 95% intervals")
    seed: int = Field(ge=0, description="of the bootstrap")
    external: str | None = Field(
        description=f"optional folder <class>/<images> scored separately; {NO_INPUT} = off"
    )
    min_group: int = Field(ge=1, description="groups smaller than this are flagged, not compared")

    @field_validator("external", mode="before")
    @classmethod
    def _placeholder_is_off(cls, external: object) -> object:
        """NO_INPUT turns it off; "" or null cannot, as DVC needs a path for its dependency."""
        if external in ("", None):
            raise ValueError(f"a folder, or {NO_INPUT} for none (DVC tracks it as a dependency)")
        return None if external == NO_INPUT else external


class ExportParams(_Section):
    """models/model.tflite is always written; quantize adds a smaller model beside it."""

    quantize: Literal["none", "float16", "dynamic"] = Field(
        description="none | float16 (weights) | dynamic (int8 weights): models/quantized/"
    )
    bootstrap: int = Field(ge=100, le=100_000, description="resamples for the quantized model's")
    seed: int = Field(ge=0, description="of the bootstrap")


@dataclass(frozen=True)
class NamedSource:
    """An entry of data.sources and its name."""

    name: str
    params: SourceParams


class Params(_Section):
    data: DataParams
    split: SplitParams
    preprocess: PreprocessParams
    model: ModelParams
    train: TrainParams
    export: ExportParams
    evaluate: EvaluateParams

    @model_validator(mode="after")
    def _scratch_from_random_weights(self) -> "Params":
        if self.train.recipe == "scratch" and self.model.weights != "none":
            raise ValueError(
                f"train.recipe scratch starts from random weights, not model.weights "
                f"{self.model.weights}; set train.recipe to auto or transfer"
            )
        return self

    def source(self, argv: list[str]) -> "NamedSource":
        """The source a per-source stage (download@<name>, validate@<name>) was run for."""
        if len(argv) != 1 or argv[0] not in self.data.sources:
            raise GenderfaceError(
                f"expected one source name of data.sources ({', '.join(self.data.sources)}), "
                f"got {' '.join(argv) or 'none'}; run it through `dvc repro`"
            )
        return NamedSource(argv[0], self.data.sources[argv[0]])

    @property
    def recipe(self) -> Literal["transfer", "scratch"]:
        """train.recipe with auto resolved: nothing learned to transfer means from scratch."""
        if self.train.recipe != "auto":
            return self.train.recipe
        return "scratch" if self.model.weights == "none" else "transfer"


def parse_params(raw: object, origin: str = str(PARAMS_FILE)) -> Params:
    """Validate a params mapping; the first problem becomes one line naming the key."""
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(top level)"
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "unknown key; remove it or check its spelling"
        elif first["type"] != "missing" and not isinstance(first["input"], dict):
            message += f" (got {first['input']!r})"
        raise GenderfaceError(f"{origin}: {key}: {message}") from None


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read and validate params.yaml."""
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise GenderfaceError(f"{path}: not found; run from the project root") from None
    except yaml.YAMLError as err:
        first_line = str(err).splitlines()[0]
        raise GenderfaceError(f"{path}: not valid YAML ({first_line}); fix the file") from None
    return parse_params(raw, str(path))

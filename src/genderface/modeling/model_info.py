"""models/model.json, the model's sidecar: its class names, decision threshold, the framing its
training images had (so evaluate and predict frame pictures the same way) and what made it.

Plain JSON, read without TensorFlow: by the model loaders (model_file.py, litert_model.py), by
predict before it starts TensorFlow for a .keras model, and by the model card through the
evaluated model.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from genderface.data.framing import Framing
from genderface.errors import GenderfaceError
from genderface.fsutil import write_json
from genderface.layout import model_meta


@dataclass(frozen=True)
class ModelInfo:
    """Class names (index = label; the sigmoid scores class 1), the decision threshold chosen on
    validation (so predict uses the operating point evaluate reports), the framing of the
    training images (a sidecar without one: the whole picture, what such models were trained on),
    and the provenance (modeling/provenance.py) when the train stage recorded it."""

    classes: list[str]
    threshold: float
    framing: Framing
    provenance: dict | None = None

    def write(self, model_path: Path) -> None:
        provenance = {"provenance": self.provenance} if self.provenance else {}
        meta = {"classes": self.classes, "threshold": self.threshold}
        write_json(model_meta(model_path), meta | {"framing": self.framing.as_dict(), **provenance})

    @classmethod
    def read(cls, model_path: Path) -> "ModelInfo":
        """The sidecar of the model file at model_path, or one line saying which of the two is
        missing or broken. Opens no model: predict checks both before TensorFlow starts."""
        if not model_path.is_file():
            raise GenderfaceError(f"{model_path}: model file not found; run `dvc repro` first")
        sidecar = model_meta(model_path)
        if not sidecar.is_file():
            raise GenderfaceError(f"{sidecar}: model file not found; run `dvc repro` first")
        try:
            meta = json.loads(sidecar.read_text())
            return cls(
                list(meta["classes"]),
                float(meta["threshold"]),
                Framing.from_dict(meta.get("framing")),
                meta.get("provenance"),
            )
        except (ValueError, KeyError, TypeError) as err:
            raise GenderfaceError(
                f"{sidecar}: not a model sidecar ({type(err).__name__}); rebuild it with dvc repro"
            ) from None

"""How a picture is framed before the model sees it: the crop around its face (data/faces.py), or
the whole picture. One framing from preprocess to predict: the shards record it, the model's
sidecar (models/model.json) carries it, and evaluate and predict frame pictures the same way.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # predict's light install has no PyYAML, which params.py reads with
    from genderface.params import DataParams

FACE, WHOLE = "face", "whole"
Kind = Literal["face", "whole"]
UNRECORDED_MARGIN = 0.2
"""The margin of shards or a sidecar that record no framing: predict --crop-face's default when
such models were made (their own framing is the whole picture)."""


@dataclass(frozen=True)
class Framing:
    """face: a square around the face found, `margin` of the face box's side added on every
    side, turned upright by the eyes; whole: the whole picture, squashed to a square (the
    margin is kept: predict --crop-face on such a model uses it)."""

    kind: Kind
    margin: float

    @classmethod
    def of(cls, data: "DataParams") -> "Framing":
        """data.framing and data.face_margin."""
        return cls(data.framing, data.face_margin)

    @classmethod
    def from_dict(cls, raw: dict | None) -> "Framing":
        """As as_dict wrote it; None (shards or models made before framing was recorded) is the
        whole picture, which is what those were trained on."""
        if raw is None:
            return UNRECORDED
        return cls(raw["kind"], float(raw["margin"]))

    def as_dict(self) -> dict:
        return {"kind": self.kind, "margin": self.margin}

    @property
    def crops(self) -> bool:
        return self.kind == FACE

    def describe(self) -> str:
        """One sentence for the model card and predict's output notes."""
        if not self.crops:
            return "the whole picture, resized to a square"
        return (
            f"a square crop around the largest face found (BlazeFace), {self.margin:g} of the "
            "face box's side added on every side, turned upright by the eyes"
        )


UNRECORDED = Framing(WHOLE, UNRECORDED_MARGIN)

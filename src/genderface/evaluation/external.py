"""An external folder (evaluate.external): images from elsewhere, <class>/<images>, scored
exactly as `genderface predict` scores files (the same loader, batches and forward pass), framed
as the model's training images were (models/model.json), and scored by group from an
attributes.csv beside the folders.

With the face framing, an image in which no face is found is left out of the scores and counted
(`no_face`): predict gives such a picture no label, so scoring it whole would measure something
predict never does.
"""

import hashlib
import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from genderface.data.faces import NONE, load_framed
from genderface.data.folders import class_files
from genderface.data.framing import Framing
from genderface.errors import GenderfaceError
from genderface.evaluation.files import Failure, Forward, Loader, score_files, whole_image
from genderface.evaluation.groups import ATTRIBUTES, GroupScores, by_group, read_attributes
from genderface.evaluation.scoring import Evaluation, LabelledImage, Scoring, scored
from genderface.params import NO_INPUT, EvaluateParams

log = logging.getLogger("evaluate")


@dataclass(frozen=True)
class External:
    """An external folder's scores (with the face framing, `no_face` among them: images with no
    face found, left out) and its scores by group (with an attributes.csv, else None)."""

    evaluation: Evaluation
    folder: str
    groups: GroupScores | None


def folder_images(folder: Path, classes: list[str]) -> list[tuple[Path, int]]:
    """Every image of folder/<class>/ (folders.class_files) with its label index."""
    if not folder.is_dir():
        raise GenderfaceError(
            f"evaluate.external {str(folder)!r}: no such folder; set it to a folder of "
            f"<class>/<images>, or to {NO_INPUT} to turn it off"
        )
    found = class_files(folder)
    if sorted(found) != sorted(classes):
        raise GenderfaceError(
            f"evaluate.external {str(folder)!r}: class folders {sorted(found)} do not match the "
            f"model's {classes}; lay it out as <class>/<images>"
        )
    return [(path, label) for label, name in enumerate(classes) for path in found[name]]


@dataclass(frozen=True)
class FolderScores:
    """A folder's evaluation and how many images were left out because no face was found."""

    evaluation: Evaluation
    no_face: int


def evaluate_folder(
    forward: Forward,
    size: int,
    folder: Path,
    scoring: Scoring,
    batch_size: int,
    loader: Loader = whole_image,
) -> FolderScores:
    """Scores of the folder's readable images in which a face was found (or every readable one,
    with the whole-picture loader); unreadable files are skipped, logged and counted
    (`skipped`), images with no face found counted in FolderScores.no_face."""
    labelled = folder_images(folder, scoring.classes)
    paths = [path for path, _ in labelled]
    images: list[LabelledImage] = []
    y_prob, skipped, no_face = [], 0, 0
    results = score_files(forward, paths, size, batch_size, loader)
    with tqdm(results, total=len(paths), desc="external") as progress:
        for (path, label), result in zip(labelled, progress, strict=True):
            if isinstance(result, Failure):
                log.warning("skipping %s", result.reason)
                skipped += 1
                continue
            if result.face == NONE:
                no_face += 1
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            images.append(LabelledImage(path.relative_to(folder).as_posix(), digest, label))
            y_prob.append(result.probability)
    if {image.label for image in images} != {0, 1}:
        raise GenderfaceError(
            f"evaluate.external {str(folder)!r}: needs readable images of both classes "
            f"{scoring.classes}" + (" with a face found" if no_face else "")
        )
    evaluation = scored(f"external {folder}", scoring, images, np.array(y_prob))
    evaluation.scores["skipped"] = skipped
    return FolderScores(evaluation, no_face)


def evaluate_external(
    forward: Forward, size: int, framing: Framing, scoring: Scoring, params: EvaluateParams
) -> External:
    """The external folder framed as the model's training images (`framing`), and by group
    when an attributes.csv lies beside its class folders."""
    folder = Path(params.external)
    loader = partial(load_framed, framing=framing)
    result = evaluate_folder(forward, size, folder, scoring, params.batch_size, loader)
    evaluation = result.evaluation
    if framing.crops:
        evaluation.scores["no_face"] = result.no_face
        log.info("external: no face found in %d images, left out", result.no_face)
    groups = None
    if (folder / ATTRIBUTES).is_file():
        groups = by_group(evaluation, read_attributes(folder / ATTRIBUTES), params.min_group)
    return External(evaluation, params.external, groups)

"""An external folder (evaluate.external): images from elsewhere, <class>/<images>, scored
exactly as `genderface predict` scores files (the same loader, batches and forward pass), with
optional face crops for portraits and scores by group from an attributes.csv beside the folders.
"""

import hashlib
import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from genderface.data.faces import NONE, load_face
from genderface.data.folders import class_files
from genderface.errors import GenderfaceError
from genderface.evaluation.files import Failure, Forward, Loader, score_files, whole_image
from genderface.evaluation.groups import ATTRIBUTES, by_group, read_attributes
from genderface.evaluation.scoring import Evaluation, LabelledImage, Scoring, scored
from genderface.evaluation.stats import GroupScores
from genderface.params import NO_INPUT, EvaluateParams

log = logging.getLogger("evaluate")


@dataclass(frozen=True)
class External:
    """An external folder's scores (with crop_face, `no_face` among them: images with no face
    found) and its scores by group (with an attributes.csv, else None)."""

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
    """A folder's evaluation and, per scored image, what was classified (the face note)."""

    evaluation: Evaluation
    faces: list[str | None]


def evaluate_folder(
    forward: Forward,
    size: int,
    folder: Path,
    scoring: Scoring,
    batch_size: int,
    loader: Loader = whole_image,
) -> FolderScores:
    """Scores of the folder's readable images; unreadable files are skipped, logged and counted
    (`skipped`)."""
    labelled = folder_images(folder, scoring.classes)
    paths = [path for path, _ in labelled]
    images: list[LabelledImage] = []
    y_prob, faces, skipped = [], [], 0
    results = score_files(forward, paths, size, batch_size, loader)
    with tqdm(results, total=len(paths), desc="external") as progress:
        for (path, label), result in zip(labelled, progress, strict=True):
            if isinstance(result, Failure):
                log.warning("skipping %s", result.reason)
                skipped += 1
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            images.append(LabelledImage(path.relative_to(folder).as_posix(), digest, label))
            y_prob.append(result.probability)
            faces.append(result.face)
    if {image.label for image in images} != {0, 1}:
        raise GenderfaceError(
            f"evaluate.external {str(folder)!r}: needs readable images of both classes "
            f"{scoring.classes}"
        )
    evaluation = scored(f"external {folder}", scoring, images, np.array(y_prob))
    evaluation.scores["skipped"] = skipped
    return FolderScores(evaluation, faces)


def evaluate_external(
    forward: Forward, size: int, scoring: Scoring, params: EvaluateParams
) -> External:
    """The external folder, through the face crop when evaluate.crop_face, and by group when an
    attributes.csv lies beside its class folders."""
    folder = Path(params.external)
    loader: Loader = whole_image
    if params.crop_face:
        loader = partial(load_face, margin=params.face_margin)
    result = evaluate_folder(forward, size, folder, scoring, params.batch_size, loader)
    evaluation = result.evaluation
    if params.crop_face:
        no_face = evaluation.scores["no_face"] = sum(face == NONE for face in result.faces)
        log.info("external: no face found in %d of %d images", no_face, len(result.faces))
    groups = None
    if (folder / ATTRIBUTES).is_file():
        groups = by_group(evaluation, read_attributes(folder / ATTRIBUTES), params.min_group)
    return External(evaluation, params.external, groups)

"""An external folder (evaluate.external): images from elsewhere, <class>/<images>, scored
exactly as `genderface predict` scores files (the same loader, batch and model call), with
optional face crops for portraits and scores by group from an attributes.csv beside the folders.
"""

import hashlib
import logging
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from genderface.errors import GenderfaceError
from genderface.faces import NONE, load_face
from genderface.folders import class_files
from genderface.inference import Failure, Loader, score_files, whole_image
from genderface.layout import PREDICTION_COLUMNS
from genderface.model import Classifier
from genderface.params import NO_INPUT, EvaluateParams
from genderface.scoring import Evaluation, Keys, check_model_matches, scored
from genderface.shards import ShardInfo
from genderface.stats import GroupScores, group_scores

log = logging.getLogger("evaluate")

ATTRIBUTES = "attributes.csv"
ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # each names a metrics key and a plot file


@dataclass(frozen=True)
class External:
    """An external folder's scores, how many images had no face found (with crop_face, else
    None) and its scores by group (with an attributes.csv, else None)."""

    evaluation: Evaluation
    folder: str
    no_face: int | None
    groups: GroupScores | None


def folder_images(folder: Path, classes: list[str]) -> tuple[list[Path], list[int]]:
    """Every image of folder/<class>/ (folders.class_files) and its label index."""
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
    paths = [path for name in classes for path in found[name]]
    labels = [label for label, name in enumerate(classes) for _ in found[name]]
    return paths, labels


def evaluate_folder(
    classifier: Classifier,
    folder: Path,
    info: ShardInfo,
    params: EvaluateParams,
    loader: Loader = whole_image,
) -> tuple[Evaluation, list[str | None]]:
    """Scores of the folder's readable images and each one's face note; unreadable files are
    skipped, logged and counted (`skipped`)."""
    check_model_matches(classifier, info)
    paths, labels = folder_images(folder, classifier.classes)
    keys: Keys = ([], [], [])
    y_prob, faces, skipped = [], [], 0
    results = score_files(classifier, paths, params.batch_size, loader)
    with tqdm(results, total=len(paths), desc="external") as progress:
        for path, label, result in zip(paths, labels, progress, strict=True):
            if isinstance(result, Failure):
                log.warning("skipping %s", result.reason)
                skipped += 1
                continue
            keys[0].append(path.relative_to(folder).as_posix())
            keys[1].append(hashlib.sha256(path.read_bytes()).hexdigest())
            keys[2].append(label)
            y_prob.append(result.probability)
            faces.append(result.face)
    if set(keys[2]) != {0, 1}:
        raise GenderfaceError(
            f"evaluate.external {str(folder)!r}: needs readable images of both classes "
            f"{classifier.classes}"
        )
    name = f"external {folder}"
    evaluation = scored(name, info, classifier.threshold, keys, np.array(y_prob), params)
    evaluation.scores["skipped"] = skipped
    return evaluation, faces


def read_attributes(path: Path) -> pd.DataFrame:
    """attributes.csv: a `file` column (relative to the folder, as `<class>/<name>`), then one
    column per attribute; every value is text."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    attributes = [c for c in frame.columns if c != "file"]
    bad = set(attributes) & set(PREDICTION_COLUMNS) or {
        name for name in attributes if not ATTRIBUTE_NAME.fullmatch(name)
    }
    if "file" not in frame.columns or not attributes or bad:
        raise GenderfaceError(
            f"{path}: needs a `file` column and attribute columns named with letters, digits, "
            f"_ . - (not {', '.join(c for c in PREDICTION_COLUMNS if c != 'file')}); got "
            f"{', '.join(frame.columns)}: fix its header"
        )
    repeated = frame["file"][frame["file"].duplicated()].tolist()
    if repeated:
        raise GenderfaceError(f"{path}: {repeated[0]} is listed twice; list each file once")
    return frame


def by_group(evaluation: Evaluation, attributes: pd.DataFrame, min_group: int) -> GroupScores:
    """Scores per attribute and group; images attributes.csv does not list form group "?"."""
    names = [c for c in attributes.columns if c != "file"]
    joined = evaluation.predictions().merge(attributes, on="file", how="left")
    joined[names] = joined[names].fillna("?")
    return group_scores(joined, names, evaluation.classes, min_group)


def evaluate_external(classifier: Classifier, info: ShardInfo, params: EvaluateParams) -> External:
    """The external folder, through the face crop when evaluate.crop_face, and by group when an
    attributes.csv lies beside its class folders."""
    folder = Path(params.external)
    loader: Loader = whole_image
    if params.crop_face:
        loader = partial(load_face, margin=params.face_margin)
    evaluation, faces = evaluate_folder(classifier, folder, info, params, loader)
    no_face = sum(face == NONE for face in faces) if params.crop_face else None
    if no_face is not None:
        evaluation.scores["no_face"] = no_face
        log.info("external: no face found in %d of %d images", no_face, len(faces))
    groups = None
    if (folder / ATTRIBUTES).is_file():
        groups = by_group(evaluation, read_attributes(folder / ATTRIBUTES), params.min_group)
    return External(evaluation, params.external, no_face, groups)

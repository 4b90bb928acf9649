"""How a source's labels are read (`data.sources.<name>.labels`), one reader per layout:

- folders: the class is the folder: faces/<class>/<image> (the Kaggle archive);
- utkface: the file name, `<age>_<gender>_<race>_<date>...`: gender 0 man, 1 woman; age (as
  FairFace's age bands) and race kept as attributes. A name that does not parse (the real set
  has a few with a field missing) is left out and its name reported, never guessed;
- csv: a labels file with columns `file` (relative to the source's folder), `label`, and any
  attribute columns (the form of evaluate.external's attributes.csv, plus the label).

Files a reader cannot label are returned with a problem ("unlabelled: ...") so validate lists
them; a labels file that cannot be used is an error naming the source and the file.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd

from genderface.data.folders import class_files, files_under
from genderface.data.manifests import TAKEN, UNLABELLED, is_attribute_name
from genderface.errors import GenderfaceError
from genderface.fsutil import parse_csv
from genderface.layout import FACES
from genderface.params import SourceParams

UTKFACE_NAME = re.compile(r"(?P<age>\d{1,3})_(?P<gender>[01])_(?P<race>[0-4])_\d+")
UTKFACE_GENDERS = ("man", "woman")
UTKFACE_RACES = ("White", "Black", "Asian", "Indian", "Other")
AGE_BANDS = ((3, "0-2"), (10, "3-9"), (20, "10-19"), (30, "20-29"), (40, "30-39"))
AGE_BANDS += ((50, "40-49"), (60, "50-59"), (70, "60-69"))
"""FairFace's age groups (upper bound exclusive; older: "70+"), so groups line up across sets."""


@dataclass(frozen=True)
class Labelled:
    """A source's file, relative to its folder in data/raw, with its class and attributes, or
    why it has none (problem)."""

    path: Path
    relative: str
    label: str
    attributes: dict[str, str] = field(default_factory=dict)
    problem: str = ""


def age_band(age: int) -> str:
    return next((name for bound, name in AGE_BANDS if age < bound), "70+")


def _folders(root: Path, name: str, params: SourceParams) -> list[Labelled]:
    faces = root / FACES
    if not faces.is_dir():
        raise GenderfaceError(f"{faces}: not found; run `dvc repro download@{name}` first")
    return [
        Labelled(path, path.relative_to(root).as_posix(), label)
        for label, paths in class_files(faces).items()
        for path in paths
    ]


def utkface_labels(file_name: str) -> Labelled | str:
    """(label, age band, race) from a UTKFace name, or why the name gives none."""
    match = UTKFACE_NAME.match(file_name)
    if not match:
        return f"{UNLABELLED}: name is not <age>_<gender 0|1>_<race 0-4>_<date>"
    attributes = {"age": age_band(int(match["age"])), "race": UTKFACE_RACES[int(match["race"])]}
    return Labelled(Path(file_name), file_name, UTKFACE_GENDERS[int(match["gender"])], attributes)


def _utkface(root: Path, name: str, params: SourceParams) -> list[Labelled]:
    found = []
    for path in files_under(root):
        relative = path.relative_to(root).as_posix()
        labels = utkface_labels(path.name)
        if isinstance(labels, str):
            found.append(Labelled(path, relative, "", problem=labels))
        else:
            found.append(Labelled(path, relative, labels.label, labels.attributes))
    return found


def _csv(root: Path, name: str, params: SourceParams) -> list[Labelled]:
    where = f"data.sources.{name}.labels_file {params.labels_file!r}"
    table = root / params.labels_file
    if not table.is_file():
        raise GenderfaceError(f"{where}: no such file in the source; name its labels CSV")
    try:
        frame = parse_csv(table)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise GenderfaceError(
            f"{where}: not a readable CSV ({type(err).__name__}); save it as UTF-8 CSV"
        ) from None
    attributes = [c for c in frame.columns if c not in ("file", "label")]
    if {"file", "label"} - set(frame.columns) or not all(map(is_attribute_name, attributes)):
        raise GenderfaceError(
            f"{where}: needs columns file, label and attributes named with letters, digits, "
            f"_ . - other than {', '.join(sorted(TAKEN))}; got {', '.join(frame.columns)}: "
            "fix its header"
        )
    listed: dict[str, Labelled] = {}
    for row in frame.to_dict("records"):
        named = PurePosixPath(row["file"])
        relative = named.as_posix()  # "./a.jpg" and "a.jpg" are one file
        path = root / relative
        if relative in listed:
            raise GenderfaceError(f"{where}: {relative} is listed twice; list each file once")
        if named.is_absolute() or ".." in named.parts or not path.is_file():
            raise GenderfaceError(
                f"{where}: names {row['file']}, which is not a file in the source; give paths "
                "relative to the source's folder, fix the CSV or add the file"
            )
        if not row["label"]:
            raise GenderfaceError(f"{where}: {relative} has no label; give every file one")
        values = {a: row[a] for a in attributes if row[a]}
        listed[relative] = Labelled(path, relative, row["label"], values)
    found = list(listed.values())
    for path in files_under(root):
        relative = path.relative_to(root).as_posix()
        if relative not in listed and path != table:
            found.append(Labelled(path, relative, "", problem=f"{UNLABELLED}: not in the CSV"))
    return sorted(found, key=lambda item: item.relative)


READERS: dict[str, Callable[[Path, str, SourceParams], list[Labelled]]] = {
    "folders": _folders,
    "utkface": _utkface,
    "csv": _csv,
}


def labelled_files(root: Path, name: str, params: SourceParams) -> list[Labelled]:
    """Every file of source `name` (downloaded at root), labelled by its layout, path-sorted."""
    if not root.is_dir():
        raise GenderfaceError(f"{root}: not found; run `dvc repro download@{name}` first")
    return sorted(READERS[params.labels](root, name, params), key=lambda item: item.relative)

"""Class folders, one rule for every reader: the data source, validate, an external evaluation
folder and predict's folder arguments all list images the same way.

The rule: class folders are the visible sub-folders of a root, and a folder's images are every
regular file at any depth below it, hidden files and folders (".DS_Store", ".git") left out,
sorted by path so no listing depends on the file system's order. Where a folder may hold other
files beside its images (predict's folder arguments: fairface-540 has a README.md and an
attributes.csv), image_named tells them apart by name.
"""

from pathlib import Path

from PIL import Image


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def files_under(folder: Path) -> list[Path]:
    """Every visible regular file below `folder`, sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and not _hidden(p, folder))


def class_files(root: Path) -> dict[str, list[Path]]:
    """{class name: its files} for every visible sub-folder of root, by name."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return {folder.name: files_under(folder) for folder in folders}


def image_named(path: Path) -> bool:
    """Whether the name ends in an extension Pillow reads (.jpg, .png, .webp, ..., any case). A
    name only: whether the file is an image, its content decides (data/images.py)."""
    return path.suffix.lower() in Image.registered_extensions()

"""Contact sheets of a random sample per class, for looking at who is in an archive.

    python scripts/contact_sheet.py <folder holding faces/<class>/> [--per-class 100] [--seed 7]
        [--out sheets]

Draws `--per-class` files of each class folder (`random.seed(seed)`, then `random.sample` of the
sorted listing, one class after the other in name order) and lays them out 10 to a row, 50 to a
sheet, each thumbnail numbered: `<out>/<class>-<first>.png`. The age count in docs/data.md ("Who
is in the archive") was made by eye on the sheets this writes for the full archive with the
defaults. Run it in the project's venv.
"""

import argparse
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

from genderface.data.folders import class_files
from genderface.data.images import load_upright
from genderface.fsutil import atomic_path

THUMB, COLUMNS, PER_SHEET = 136, 10, 50


def sample(files: dict[str, list[Path]], per_class: int, seed: int) -> dict[str, list[Path]]:
    """`per_class` files of each class, drawn as the docstring says."""
    random.seed(seed)
    return {name: random.sample(paths, per_class) for name, paths in files.items()}


def sheet(paths: list[Path], first: int) -> Image.Image:
    """Thumbnails of `paths` on a white sheet, numbered from `first`."""
    rows = -(-len(paths) // COLUMNS)
    cell = THUMB + 4
    page = Image.new("RGB", (COLUMNS * cell, rows * cell), "white")
    draw = ImageDraw.Draw(page)
    for index, path in enumerate(paths):
        thumb = load_upright(path)
        thumb.thumbnail((THUMB, THUMB))
        x, y = (index % COLUMNS) * cell, (index // COLUMNS) * cell
        page.paste(thumb, (x, y))
        draw.text((x + 2, y + 2), str(first + index), fill="yellow")
    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the folder holding faces/<class>/")
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("sheets"))
    args = parser.parse_args()
    faces = args.folder / "faces"
    if not faces.is_dir():
        sys.exit(f"error: {faces}: no such folder; pass the folder that holds faces/<class>/")
    files = class_files(faces)
    short = {name: len(paths) for name, paths in files.items() if len(paths) < args.per_class}
    if short:
        sys.exit(f"error: fewer than --per-class {args.per_class} files in {short}; pass fewer")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, paths in sample(files, args.per_class, args.seed).items():
        for first in range(0, len(paths), PER_SHEET):
            target = args.out / f"{name}-{first}.png"
            with atomic_path(target, ".png") as temporary:
                sheet(paths[first : first + PER_SHEET], first).save(temporary)
            print(target)


if __name__ == "__main__":
    main()

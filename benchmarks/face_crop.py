"""Face finding for predict --crop-face: OpenCV's Haar cascade and BlazeFace on the same images.

    python benchmarks/face_crop.py [--sample ../shared/data/fairface-540.zip] [--rounds 2]
        [--crops 540] [--predict-files 1000] [--image-size 150]

The Haar path is the package as it was at HAAR_REV (the last commit with it), taken with
`git archive`; BlazeFace is a fresh clone of HEAD. In one run:
  (a) fairface-540's 540 crops as they are: the share with a face found, per age group;
  (b) portraits made from them: each crop pasted at 4 scales (its side 25, 35, 50 and 70% of a
      768 x 1024 canvas's width) at a seeded random position on a seeded smooth random background,
      2,160 in all: the share where the chosen face's centre lies inside the pasted crop, per age
      group and per scale; and each finder's images per second on them (decoded images in memory);
  (c) `genderface predict --crop-face` on the first --predict-files portraits saved as JPEG, through
      the installed command with an untrained model at 150 px (the real job's image size), the two
      paths in turn --rounds times (interleaved, so other load on the machine hits both), the best
      round of each kept, and the ratio.
Prints the machine line, then these parameters with the model as built (its recipe and input
side), then the figures; the predict count is how many images the runs labelled.
--crops, --predict-files and --image-size shrink the run (the smoke test in
tests/test_benchmarks.py: a few generated crops, 32 px, one round).
Run it from the project's virtual environment (`make setup`).
"""

import csv
import importlib
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
from fresh_clone import (
    REPO,
    fresh_clone,
    import_from_clone,
    module_at,
    print_machine,
    print_parameters,
    project_env,
    sample_parser,
    sample_path,
    unpacked,
)
from PIL import Image
from tqdm import tqdm

HAAR_REV = "4a3e7470304cf739ebc3b1925b050638ca04f0e8"
CANVAS = (768, 1024)  # width, height: a portrait's 3:4
SCALES = (0.25, 0.35, 0.5, 0.7)  # pasted crop's side / canvas width
SEED = 0

Finder = Callable[[Image.Image], np.ndarray | None]  # the chosen face's centre (x, y), or None


def haar_package(folder: Path) -> Path:
    """src/ of the package at HAAR_REV, extracted into folder."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", HAAR_REV, "src"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def finders(haar_src: Path, clone_src: Path) -> dict[str, Finder]:
    # The Haar module imports its decoding helpers from genderface.images, today's
    # genderface.data.images (same functions), which the clone's package provides.
    sys.modules.setdefault("genderface.images", importlib.import_module("genderface.data.images"))
    haar = module_at(haar_src / "genderface" / "faces.py", "haar_faces")
    blaze = module_at(clone_src / "genderface" / "data" / "faces.py", "blaze_faces")

    def haar_centre(image: Image.Image) -> np.ndarray | None:
        box = haar.largest_face(np.asarray(image))
        return None if box is None else np.array(box[:2]) + np.array(box[2:]) / 2

    def blaze_centre(image: Image.Image) -> np.ndarray | None:
        face = blaze.find_face(image)
        return None if face is None else (face.box[:2] + face.box[2:]) / 2

    return {"Haar": haar_centre, "BlazeFace": blaze_centre}


def portraits(
    crops: list[Image.Image],
) -> Iterator[tuple[float, Image.Image, tuple[int, int, int]]]:
    """(scale, portrait, (left, top, side) of the pasted crop) for every crop at every scale."""
    rng = np.random.default_rng(SEED)
    width, height = CANVAS
    for scale in SCALES:
        for face in crops:
            blobs = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
            smooth = np.asarray(Image.fromarray(blobs).resize(CANVAS, Image.Resampling.BICUBIC))
            grain = rng.normal(0, 6, smooth.shape)
            canvas = Image.fromarray(np.clip(smooth + grain, 0, 255).astype(np.uint8))
            side = round(scale * width)
            left = int(rng.integers(0, width - side + 1))
            top = int(rng.integers(0, height - side + 1))
            canvas.paste(face.resize((side, side), Image.Resampling.BILINEAR), (left, top))
            yield scale, canvas, (left, top, side)


def inside(centre: np.ndarray | None, placed: tuple[int, int, int]) -> bool:
    left, top, side = placed
    return centre is not None and bool(
        np.all((centre >= (left, top)) & (centre < (left + side, top + side)))
    )


def untrained_model(clone: Path, folder: Path, image_size: int) -> tuple[Path, dict]:
    """An untrained classifier: predict's cost per image without any download; its path and what
    it is (recipe, VGG16 variant, the input side the built model takes)."""
    import yaml

    from genderface.data.framing import Framing
    from genderface.modeling.model import build_model
    from genderface.modeling.model_file import Classifier, save_classifier
    from genderface.modeling.model_info import ModelInfo
    from genderface.params import parse_params

    params = parse_params(yaml.safe_load((clone / "params.yaml").read_text()))
    model = build_model(
        image_size, params.model, params.train.augment, params.train.seed, recipe=params.recipe
    )
    path = folder / "model.keras"
    info = ModelInfo(["man", "woman"], 0.5, Framing.of(params.data))
    save_classifier(Classifier(model, info), path)
    made = {
        "recipe": params.recipe,
        "model.batch_norm": params.model.batch_norm,
        "model input": f"{model.input_shape[1]} px",
    }
    return path, made


# Each package's own command-line entry point, in the same interpreter.
ENTRY_POINTS = {
    "Haar": "from genderface.cli import app; app()",
    "BlazeFace": "from genderface.commands.cli import app; app()",
}


def predict_seconds(name: str, env: dict[str, str], model: Path, files: Path) -> tuple[float, int]:
    """Seconds of one predict run over the folder, and how many images its CSV labelled."""
    command = [sys.executable, "-c", ENTRY_POINTS[name], "predict", "--crop-face"]
    options = ["--format", "csv", "--model", str(model), str(files)]
    start = time.perf_counter()
    run = subprocess.run([*command, *options], env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, len(run.stdout.splitlines()) - 1  # less the header


def rate(hits: list[bool]) -> str:
    return f"{100 * np.mean(hits):6.1f}%"


def print_found(found: dict, groups: list[str], names: list[str]) -> None:
    print(
        "\nshare with a face found (Haar | BlazeFace); portraits: found where the crop was pasted"
    )
    print(f"{'age group':<12}{'fairface-540 crops':>22}{'generated portraits':>24}")
    for age in [*groups, "all"]:
        cells = []
        for kind in ("crops", "portraits"):
            chosen = groups if age == "all" else [age]
            hits = [[hit for g in chosen for hit in found[kind, name, g]] for name in names]
            cells.append(" ".join(rate(h) for h in hits))
        print(f"{age:<12}{cells[0]:>22}{cells[1]:>24}")
    for scale in SCALES:
        hits = [found["scale", name, f"{scale:.2f}"] for name in names]
        print(f"portraits, crop {scale:.0%} of the width: " + " | ".join(rate(h) for h in hits))


@dataclass(frozen=True)
class Finds:
    """Each finder's hits, keyed (what, finder, group), and its seconds on the portraits."""

    found: dict[tuple[str, str, str], list[bool]]
    seconds: dict[str, float]
    portraits: int


def run_finders(
    find: dict[str, Finder],
    rows: list[dict[str, str]],
    crops: list[Image.Image],
    portrait_files: Path,
    keep: int,
) -> Finds:
    """Every finder on every crop, then on every portrait made of them (timed); the first
    `keep` portraits saved to portrait_files for predict."""
    found: dict[tuple[str, str, str], list[bool]] = defaultdict(list)
    for row, crop in zip(tqdm(rows, desc="fairface-540"), crops, strict=True):
        for name, finder in find.items():
            found["crops", name, row["age"]].append(finder(crop) is not None)
    seconds = dict.fromkeys(find, 0.0)
    total = len(SCALES) * len(crops)
    for index, (scale, portrait, placed) in enumerate(tqdm(portraits(crops), "portraits", total)):
        age = rows[index % len(rows)]["age"]
        for name, finder in find.items():
            start = time.perf_counter()
            centre = finder(portrait)
            seconds[name] += time.perf_counter() - start
            hit = inside(centre, placed)
            found["portraits", name, age].append(hit)
            found["scale", name, f"{scale:.2f}"].append(hit)
        if index < keep:
            portrait.save(portrait_files / f"portrait_{index:04d}.jpg", quality=90)
    return Finds(found, seconds, total)


def print_predict(timings: dict[str, list[float]], predicted: int) -> None:
    """Each path's best predict time over its rounds, and BlazeFace's speed against Haar's."""
    best = {name: min(times) for name, times in timings.items()}
    rounds = len(timings["Haar"])
    print(f"predict --crop-face on {predicted} portraits, best of {rounds} rounds:")
    for name, times in timings.items():
        each = " ".join(f"{t:.1f}" for t in times)
        speed = predicted / best[name]
        print(f"  {name:<10}{best[name]:8.1f} s  {speed:6.1f} img/s  rounds: {each}")
    print(f"BlazeFace / Haar speed = {best['Haar'] / best['BlazeFace']:.2f} (>= 1: no slower)")


def main() -> None:
    parser = sample_parser(__doc__.splitlines()[0])
    parser.set_defaults(sample=REPO.parent / "shared/data/fairface-540.zip")
    parser.add_argument("--rounds", type=int, default=2, help="predict runs of each path")
    parser.add_argument("--crops", type=int, default=None, help="the first N crops only")
    parser.add_argument("--predict-files", type=int, default=1000, help="portraits to predict")
    parser.add_argument("--image-size", type=int, default=150, help="the untrained model's side")
    args = parser.parse_args()
    print_machine()
    sample = sample_path(args)
    with tempfile.TemporaryDirectory() as tmp, fresh_clone() as clone:
        import_from_clone(clone)  # the clone's package, not the venv's install
        work = Path(tmp)
        model, made = untrained_model(clone, work, args.image_size)
        print_parameters(
            {
                "sample": sample.name,
                "crops": args.crops or "all",
                "predict files": args.predict_files,
                "rounds": args.rounds,
                "Haar at": HAAR_REV[:7],
                **made,
            }
        )
        root = unpacked(sample, work / "fairface")
        rows = list(csv.DictReader((root / "attributes.csv").open()))[: args.crops]
        groups = sorted(
            {row["age"] for row in rows}, key=lambda age: int(age.strip("+").split("-")[0])
        )
        crops = [Image.open(root / row["file"]).convert("RGB") for row in rows]
        haar_src = haar_package(work / "haar")
        find = finders(haar_src, clone / "src")

        portrait_files = work / "portraits"
        portrait_files.mkdir()
        finds = run_finders(find, rows, crops, portrait_files, args.predict_files)
        print_found(finds.found, groups, list(find))
        for name in find:
            speed = finds.portraits / finds.seconds[name]
            print(f"{name:<12}{speed:6.1f} images/s on the portraits (decoded)")
        paths = {
            "Haar": project_env(clone) | {"PYTHONPATH": str(haar_src)},
            "BlazeFace": project_env(clone),
        }
        timings: dict[str, list[float]] = defaultdict(list)
        labelled = set()
        for _ in tqdm(range(args.rounds), "predict rounds"):
            for name, env in paths.items():
                seconds, rows = predict_seconds(name, env, model, portrait_files)
                timings[name].append(seconds)
                labelled.add(rows)
    if len(labelled) != 1:
        sys.exit(f"error: the predict runs labelled different numbers of images: {labelled}")
    print_predict(timings, labelled.pop())


if __name__ == "__main__":
    main()

"""`genderface predict`'s speed on its two paths, in one run: the Keras model (models/model.keras,
TensorFlow) and the exported one (models/model.tflite, LiteRT, the default).

    python benchmarks/predict.py [--sample PATH] [--images 1000] [--runs 5] [--rounds 1]
                                 [--image-size 32]

The model is the committed params' (their recipe's VGG16 + head, batch-normalised under the
default scratch recipe) built untrained at --image-size (32 px by default; speed does not
depend on the weights), saved by the train stage's save_classifier and converted by the
export stage's convert. The machine line comes first, then the model and the counts as built and
extracted. Every measurement runs the installed `genderface` command of this venv as a new
process and times it from start to exit, so imports count:
  (a) one image (the sample's first): --runs times per path, the paths interleaved so other load
      on the machine hits both; the median of each, and Keras / LiteRT;
  (b) a folder of the sample's first --images images (extracted to a temporary folder), labelled
      with --format csv, whole and with --crop-face, each path --rounds times interleaved; the
      best round of each as images per second, and LiteRT / Keras; and how many labels the two
      paths share.
For a quick check: --images 8 --runs 1. Run it from the project's venv.
"""

import argparse
import csv
import io
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from fresh_clone import REPO, print_machine, print_parameters, sample_parser, sample_path

PATHS = {"keras": "model.keras", "litert": "model.tflite"}


def arguments() -> argparse.Namespace:
    parser = sample_parser(__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="folder size for (b)")
    parser.add_argument("--runs", type=int, default=5, help="one-image runs per path for (a)")
    parser.add_argument("--rounds", type=int, default=1, help="folder rounds per path for (b)")
    parser.add_argument("--image-size", type=int, default=32, help="the model's input side")
    return parser.parse_args()


def build_models(folder: Path, image_size: int) -> tuple[dict[str, Path], dict]:
    """model.keras and model.tflite (with model.json) of one untrained model; and what it is
    (recipe, VGG16 variant, the input side the built model takes)."""
    sys.path.insert(0, str(REPO / "src"))
    import genderface.entry_point  # noqa: F401 - first: quiets TensorFlow's start-up
    from genderface.data.framing import Framing
    from genderface.modeling.export import convert
    from genderface.modeling.model import build_model
    from genderface.modeling.model_file import Classifier, save_classifier
    from genderface.modeling.model_info import ModelInfo
    from genderface.params import load_params

    params = load_params(REPO / "params.yaml")
    model = build_model(
        image_size, params.model, params.train.augment, params.train.seed, recipe=params.recipe
    )
    info = ModelInfo(["man", "woman"], 0.5, Framing.of(params.data))
    save_classifier(Classifier(model, info), folder / PATHS["keras"])
    (folder / PATHS["litert"]).write_bytes(convert(model))
    made = {
        "recipe": params.recipe,
        "model.batch_norm": params.model.batch_norm,
        "model input": f"{model.input_shape[1]} px",
    }
    return {name: folder / file for name, file in PATHS.items()}, made


def extract_images(sample: Path, folder: Path, count: int) -> list[Path]:
    """The sample's first `count` images (sorted by name), as files under folder."""
    with zipfile.ZipFile(sample) as archive:
        names = sorted(n for n in archive.namelist() if not n.endswith("/"))[:count]
        return [Path(archive.extract(name, folder)) for name in names]


def timed_predict(model: Path, *args: str) -> tuple[float, str]:
    """Seconds from the process's start to its exit, and its standard output."""
    command = [str(Path(sys.executable).with_name("genderface")), "predict", "--model", str(model)]
    start = time.perf_counter()
    run = subprocess.run([*command, *args], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if run.returncode:
        sys.exit(f"error: {' '.join(command)} failed:\n{run.stderr}")
    return seconds, run.stdout


@dataclass(frozen=True)
class FolderResult:
    seconds: float
    labels: list[str]


def one_image(models: dict[str, Path], image: Path, runs: int) -> dict[str, float]:
    """Median seconds per path over `runs` interleaved runs."""
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(runs):
        for name, model in models.items():
            times[name].append(timed_predict(model, str(image))[0])
    return {name: statistics.median(values) for name, values in times.items()}


def folder_run(
    models: dict[str, Path], folder: Path, crop: bool, rounds: int
) -> dict[str, FolderResult]:
    """Best of `rounds` interleaved runs per path, with the labels each path gave."""
    best: dict[str, FolderResult] = {}
    framing = "--crop-face" if crop else "--whole-image"
    args = ["--format", "csv", "--no-progress", framing, str(folder)]
    for _ in range(rounds):
        for name, model in models.items():
            seconds, out = timed_predict(model, *args)
            labels = [row["label"] for row in csv.DictReader(io.StringIO(out))]
            if name not in best or seconds < best[name].seconds:
                best[name] = FolderResult(seconds, labels)
    return best


def report(
    single: dict[str, float], folders: dict[str, dict[str, FolderResult]], count: int, runs: int
) -> None:
    keras, lite = single["keras"], single["litert"]
    print(f"(a) one image, process start to output, median of {runs} interleaved runs:")
    print(
        f"    Keras (.keras) {keras:.2f} s, LiteRT (.tflite) {lite:.2f} s: "
        f"Keras/LiteRT {keras / lite:.2f}x"
    )
    print(f"(b) a folder of {count} images, best round, images per second:")
    for kind, result in folders.items():
        rates = {name: count / r.seconds for name, r in result.items()}
        agree = sum(
            a == b for a, b in zip(result["keras"].labels, result["litert"].labels, strict=True)
        )
        print(
            f"    {kind}: Keras {rates['keras']:.1f} img/s ({result['keras'].seconds:.1f} s), "
            f"LiteRT {rates['litert']:.1f} img/s ({result['litert'].seconds:.1f} s): "
            f"LiteRT/Keras {rates['litert'] / rates['keras']:.2f}x; same label {agree}/{count}"
        )


def main() -> None:
    args = arguments()
    print_machine()
    sample = sample_path(args)
    with tempfile.TemporaryDirectory(prefix="genderface-bench-") as tmp:
        work = Path(tmp)
        models, made = build_models(work / "models", args.image_size)
        images = extract_images(sample, work / "images", args.images)
        print_parameters(
            {**made, "images": len(images), "one-image runs": args.runs, "rounds": args.rounds}
        )
        single = one_image(models, images[0], args.runs)
        folders = {
            kind: folder_run(models, work / "images", crop, args.rounds)
            for kind, crop in (("whole image", False), ("--crop-face", True))
        }
    report(single, folders, len(images), args.runs)


if __name__ == "__main__":
    main()

"""Images per second into training: the original project's input path against this project's.

    python benchmarks/input_pipeline.py [--sample ../shared/data/genderface-sample.zip]
        [--rounds 3] [--size 150]

On the real sample's images, at 150 px, in one run:
  (a) the original: ImageDataGenerator(rescale=1/255, rotation_range=40, width/height_shift 0.2,
      shear_range=0.2, zoom_range=0.2, horizontal_flip=True).flow_from_directory(150x150, batch 20)
      which decodes, resizes and augments every image in Python every epoch;
  (b) this project's training input: TrainingData.from_shards (the TFRecord shards preprocess
      wrote, cached in memory, reshuffled, batched, prefetched) with model.augmentation() set to
      the same transforms, applied to every batch with training=True, compiled as fit compiles it;
  (c) the ceiling of any pipeline that decodes every epoch: images.load_rgb (decode + resize to
      150 px) of the same files on as many threads as TensorFlow runs (b) on: its intra-op plus
      inter-op pools, one thread per core each by default (on a shared machine more threads
      win more CPU time, so (c) gets the same number).
The three are measured in turn, --rounds times (interleaving spreads any other load on the
machine over all three), and each figure is the best of its rounds. Prints the machine line and
these parameters, then the table (with the size the shards were written at) and the ratios
(b)/(a) and (b)/(c). The shards are built first (preprocess, timed separately: it runs
once, not every epoch). --size picks another image side (the smoke test in
tests/test_benchmarks.py runs a few generated images at 32 px, one round). Run it from the venv
(`make setup`).
"""

import os
import tempfile
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf
import yaml
from fresh_clone import REPO, print_machine, print_parameters, sample_parser, sample_path

from genderface.data.framing import Framing
from genderface.data.images import load_rgb
from genderface.data.input_pipeline import TrainingData, shuffled_epochs, steps_per_epoch
from genderface.data.preprocess import write_shards
from genderface.data.split import split, usable_files
from genderface.data.validate import check_files
from genderface.modeling.model import augmentation
from genderface.params import parse_params

BATCH = 20
# ImageDataGenerator's settings in this project's units: rotation and shear as fractions of a
# full turn (its shear_range is in degrees), zoom 0.2 = scale within [0.8, 1.2], shifts 0.2.
EQUIVALENT = {
    "flip": True,
    "rotation": 40 / 360,
    "shear": 0.2 / 360,
    "zoom": 0.2,
    "translation": 0.2,
}


def original(faces: Path, size: int) -> Iterator[float]:
    """(a): passes over every image through flow_from_directory, as the original trained."""
    from tensorflow.keras.preprocessing.image import ImageDataGenerator

    generator = ImageDataGenerator(
        rescale=1 / 255,
        rotation_range=40,
        width_shift_range=0.2,
        height_shift_range=0.2,
        shear_range=0.2,
        zoom_range=0.2,
        horizontal_flip=True,
    ).flow_from_directory(
        str(faces), target_size=(size, size), batch_size=BATCH, class_mode="binary", seed=0
    )
    while True:
        start = time.perf_counter()
        seen = sum(len(next(generator)[1]) for _ in range(len(generator)))
        yield seen / (time.perf_counter() - start)


def project(shards: Path, params_dict: dict) -> Iterator[float]:
    """(b): epochs through the training dataset + augmentation; the first one fills the cache
    and compiles, later ones are what every other epoch of training costs."""
    params = parse_params(params_dict)
    data = TrainingData.from_shards(shards)
    batch = params.train.batch_size
    steps = steps_per_epoch(data.train, batch)
    # as training does: one stream of epochs, each reshuffled
    train = iter(shuffled_epochs(data.train, batch, params.train.seed, 0, 1_000_000))
    augment = augmentation(params.train.augment, params.train.seed)
    step = tf.function(lambda images: augment(images, training=True))
    while True:
        start, seen = time.perf_counter(), 0
        for _ in range(steps):
            images, _labels = next(train)
            seen += int(step(images).shape[0])
        yield seen / (time.perf_counter() - start)


def decode_only(files: list[Path], threads: int, size: int) -> Iterator[float]:
    """(c): decode + resize every file once, the work a decode-every-epoch pipeline repeats."""
    with ThreadPoolExecutor(threads) as pool:
        while True:
            start = time.perf_counter()
            for _ in pool.map(lambda path: load_rgb(path, size), files):
                pass
            yield len(files) / (time.perf_counter() - start)


def main() -> None:
    parser = sample_parser(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each, best kept")
    parser.add_argument("--size", type=int, default=150, help="image side, px")
    args = parser.parse_args()
    print_machine()
    sample = sample_path(args)
    params_dict = yaml.safe_load((REPO / "params.yaml").read_text())
    params_dict["data"]["image_size"] = args.size
    params_dict["train"]["batch_size"] = BATCH
    params_dict["train"]["augment"].update(EQUIVALENT)
    cores = os.cpu_count() or 1
    threads = (tf.config.threading.get_intra_op_parallelism_threads() or cores) + (
        tf.config.threading.get_inter_op_parallelism_threads() or cores
    )
    params = parse_params(params_dict)
    print_parameters(
        {
            "size": f"{args.size} px",
            "batch": BATCH,
            "train.augment": params.train.augment.model_dump(),
            "data.framing": params.data.framing,
            "rounds": args.rounds,
            "threads for (b) and (c)": threads,
        }
    )
    # the sample as params.yaml's first source (the Kaggle archive's place) in data/raw/<name>
    name, source = next(iter(params.data.sources.items()))
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        with zipfile.ZipFile(sample) as archive:
            archive.extractall(raw / name)
        faces = raw / name / "faces"
        files = sorted(faces.glob("*/*"))
        start = time.perf_counter()
        manifest = split(usable_files(check_files(raw, name, source)), params.split, [name])
        per_shard = params.preprocess.images_per_shard
        write_shards(
            manifest, raw, Path(tmp) / "shards", args.size, per_shard, Framing.of(params.data)
        )
        preprocess = time.perf_counter() - start
        written = TrainingData.from_shards(Path(tmp) / "shards").info.image_size
        pipelines = {
            "a": original(faces, args.size),
            "b": project(Path(tmp) / "shards", params_dict),
            "c": decode_only(files, threads, args.size),
        }
        first = next(pipelines["b"])
        rounds = [
            {name: next(runs) for name, runs in pipelines.items()} for _ in range(args.rounds)
        ]
    a, b, c = (max(r[name] for r in rounds) for name in "abc")
    print(f"\n{len(files)} sample images at {written} px (as written to the shards), batch {BATCH}")
    print(f"{'input pipeline (best of ' + str(args.rounds) + ' rounds)':<66}{'img/s':>8}  rounds")
    rows = {
        "a": "(a) original: ImageDataGenerator.flow_from_directory, augmenting",
        "b": "(b) project: cached shards + tf.data + augmentation in the model",
        "c": "(c) decode + resize only, same files, same threads",
    }
    for name, label in rows.items():
        each = " ".join(f"{r[name]:.0f}" for r in rounds)
        print(f"{label:<66}{max(r[name] for r in rounds):8.0f}  {each}")
    print(f"{'    (b) first epoch: reads the shards into the cache, compiles':<66}{first:8.0f}")
    print(f"(b)/(a) = {b / a:.1f}   (b)/(c) = {b / c:.2f}")
    print(
        f"one-off validate + split + preprocess to shards: {preprocess:.1f} s "
        f"({len(files) / preprocess:.0f} img/s)"
    )


if __name__ == "__main__":
    main()

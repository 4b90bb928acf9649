"""Images per second into training: the original project's input path against this project's.

    python benchmarks/input_pipeline.py [--sample ../shared/data/genderface-sample.zip]

On the real sample's images, at 150 px, in one run:
  (a) the original: ImageDataGenerator(rescale=1/255, rotation_range=40, width/height_shift 0.2,
      shear_range=0.2, zoom_range=0.2, horizontal_flip=True).flow_from_directory(150x150, batch 20)
      which decodes, resizes and augments every image in Python every epoch;
  (b) this project's training input: TrainingData.from_shards (the TFRecord shards preprocess
      wrote, cached in memory, reshuffled, batched, prefetched) with model.augmentation() set to
      the same transforms, applied to every batch with training=True, compiled as fit compiles it;
  (c) the ceiling of any pipeline that decodes every epoch: images.load_rgb (decode + resize to
      150 px) of the same files on as many threads as TensorFlow uses (one per core).
Prints the table and the ratios (b)/(a) and (b)/(c). The shards are built first (preprocess,
timed separately: it runs once, not every epoch). Run it from the venv (`make setup`).
"""

import argparse
import os
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf
import yaml

from genderface.images import load_rgb
from genderface.model import augmentation
from genderface.params import parse_params
from genderface.preprocess import write_shards
from genderface.split import split, usable_records
from genderface.training import TrainingData
from genderface.validate import check_files

REPO = Path(__file__).resolve().parents[1]
SIZE, BATCH = 150, 20
# ImageDataGenerator's settings in this project's units: rotation and shear as fractions of a
# full turn (its shear_range is in degrees), zoom 0.2 = scale within [0.8, 1.2], shifts 0.2.
EQUIVALENT = {
    "flip": True,
    "rotation": 40 / 360,
    "shear": 0.2 / 360,
    "zoom": 0.2,
    "translation": 0.2,
}


def original(faces: Path, images: int) -> float:
    """(a): one pass over every image through flow_from_directory, as the original trained."""
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
        str(faces), target_size=(SIZE, SIZE), batch_size=BATCH, class_mode="binary", seed=0
    )
    start = time.perf_counter()
    seen = 0
    for _ in range(len(generator)):
        seen += len(next(generator)[1])
    assert seen == images
    return seen / (time.perf_counter() - start)


def project(shards: Path, params_dict: dict, epochs: int) -> tuple[float, float]:
    """(b): epochs through the training dataset + augmentation; (first epoch, later epochs)."""
    params = parse_params(params_dict)
    data = TrainingData.from_shards(shards, params)
    augment = augmentation(params.train.augment, params.train.seed)
    step = tf.function(lambda images: augment(images, training=True))
    rates = []
    for _ in range(epochs):
        start, seen = time.perf_counter(), 0
        for images, _labels in data.train:
            seen += int(step(images).shape[0])
        rates.append(seen / (time.perf_counter() - start))
    return rates[0], sum(rates[1:]) / len(rates[1:])


def decode_only(files: list[Path], threads: int) -> float:
    """(c): decode + resize every file once, the work a decode-every-epoch pipeline repeats."""
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(lambda path: load_rgb(path, SIZE), files):
            pass
    return len(files) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sample", type=Path, default=REPO.parent / "shared/data/genderface-sample.zip"
    )
    parser.add_argument("--epochs", type=int, default=3, help="epochs of (b); first one warms up")
    args = parser.parse_args()
    if not args.sample.is_file():
        raise SystemExit(f"error: {args.sample}: sample archive not found; pass --sample PATH")
    params_dict = yaml.safe_load((REPO / "params.yaml").read_text())
    params_dict["data"]["image_size"] = SIZE
    params_dict["train"]["batch_size"] = BATCH
    params_dict["train"]["augment"].update(EQUIVALENT)
    threads = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        with zipfile.ZipFile(args.sample) as archive:
            archive.extractall(raw)
        files = sorted((raw / "faces").glob("*/*"))
        start = time.perf_counter()
        manifest = split(usable_records(check_files(raw)), parse_params(params_dict).split)
        write_shards(manifest, raw, Path(tmp) / "shards", SIZE, images_per_shard=4096)
        preprocess = time.perf_counter() - start
        a = original(raw / "faces", len(files))
        first, b = project(Path(tmp) / "shards", params_dict, args.epochs)
        c = decode_only(files, threads)
    print(f"\n{len(files)} sample images at {SIZE} px, batch {BATCH}, {threads} CPU threads")
    print(f"{'input pipeline':<68}{'img/s':>8}")
    print(f"{'(a) original: ImageDataGenerator.flow_from_directory, augmenting':<68}{a:8.0f}")
    print(f"{'(b) project: cached shards + tf.data + augmentation layers':<68}{b:8.0f}")
    print(f"{'    (b) first epoch, reading the shards into the cache':<68}{first:8.0f}")
    print(f"{'(c) decode + resize only, same files, same threads':<68}{c:8.0f}")
    print(f"(b)/(a) = {b / a:.1f}   (b)/(c) = {b / c:.2f}")
    print(
        f"one-off validate + split + preprocess to shards: {preprocess:.1f} s "
        f"({len(files) / preprocess:.0f} img/s)"
    )


if __name__ == "__main__":
    main()

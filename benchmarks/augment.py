"""Augmentation throughput: the project's fused sampler against the same work in keras.ops.

    python benchmarks/augment.py [--rounds 5] [--batches 8] [--passes 4] [--sizes 64 150]

On the same batches (random uint8 images, cast to float32 as the training input is, batch 32,
at 64 and 150 px) with the same per-image transforms and contrast factors (drawn by
augment.RandomAugment with params.yaml's train.augment and train.seed):
  (a) augment.augment_batch: the project's resampling + contrast, one XLA-compiled function;
  (b) keras.ops only: keras.ops.image.affine_transform(images, transforms, "bilinear",
      fill_mode="nearest"), then RandomContrast's per-image adjustment in keras.ops, run
      (b1) eagerly, (b2) in a tf.function as fit runs the model with train.xla off, and
      (b3) in a tf.function(jit_compile=True) as fit compiles it with train.xla on;
  (c) for scale, Keras' stock layers, one resampling per transform (RandomFlip, RandomRotation,
      RandomZoom, RandomTranslation with nearest fill, RandomContrast) in a tf.function, with the
      same factors but their own random draws (params.yaml's shear is 0, so no RandomShear).
Each variant is timed over --passes passes of the --batches batches, in turn, --rounds times
(interleaving spreads any other load on the machine over all of them); each figure is the best of
its rounds, after one untimed pass that compiles. A variant that cannot run says why. Prints
the machine line and these parameters, then, per size, the batches as made and img/s, (a)/(b)
against the fastest keras.ops variant (also the median of each round's own ratio, steadier on a
loaded machine), and (a)/(c). --sizes picks other image sizes (the smoke
test in tests/test_benchmarks.py runs 32 px, one round). Run it from the venv (`make setup`).
"""

import argparse
import os
import re
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf
import yaml
from fresh_clone import REPO, print_machine, print_parameters
from keras import ops
from tqdm import tqdm

from genderface.modeling.augment import RandomAugment, augment_batch
from genderface.modeling.model import augmentation
from genderface.params import AugmentParams, parse_params

SIZES, BATCH = (64, 150), 32
Batches = list[tuple[tf.Tensor, tf.Tensor, tf.Tensor]]


def keras_ops_augment(images: tf.Tensor, transforms: tf.Tensor, contrast: tf.Tensor) -> tf.Tensor:
    """(b): the stock resampling, then keras.layers.RandomContrast's adjustment per image."""
    moved = ops.image.affine_transform(images, transforms, "bilinear", fill_mode="nearest")
    mean = ops.mean(moved, axis=(1, 2), keepdims=True)
    return ops.clip((moved - mean) * contrast[:, None, None, None] + mean, 0.0, 255.0)


def stock_layers(augment: AugmentParams, seed: int) -> Callable:
    """(c): Keras' own layers, each resampling the whole batch."""
    nearest = {"fill_mode": "nearest", "seed": seed}
    stack = keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomRotation(augment.rotation, **nearest),
            keras.layers.RandomZoom(augment.zoom, **nearest),
            keras.layers.RandomTranslation(augment.translation, augment.translation, **nearest),
            keras.layers.RandomContrast(augment.contrast, seed=seed),
        ]
    )

    def call(images: tf.Tensor, transforms: tf.Tensor, contrast: tf.Tensor) -> tf.Tensor:
        return stack(images, training=True)  # draws its own transforms and factors

    return tf.function(call)


def variants(augment: AugmentParams, seed: int) -> dict[str, tuple[str, Callable]]:
    return {
        "a": ("(a) project: augment_batch, fused, XLA", augment_batch),
        "b1": ("(b1) keras.ops: affine_transform + contrast, eager", keras_ops_augment),
        "b2": ("(b2) keras.ops: the same in tf.function", tf.function(keras_ops_augment)),
        "b3": (
            "(b3) keras.ops: the same in tf.function(jit_compile=True)",
            tf.function(keras_ops_augment, jit_compile=True),
        ),
        "c": (
            "(c) Keras' stock layers, one per transform, tf.function",
            stock_layers(augment, seed),
        ),
    }


def make_batches(size: int, count: int, layer: RandomAugment, seed: int) -> Batches:
    """count batches of random pixels with the transforms and factors training would draw."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        pixels = rng.integers(0, 256, (BATCH, size, size, 3), dtype=np.uint8)
        transforms, contrast = layer.draw(BATCH, size, size)
        batches.append((tf.cast(pixels, tf.float32), transforms, contrast))
    return batches


def throughput(function: Callable, batches: Batches, passes: int) -> float:
    start = time.perf_counter()
    for _ in range(passes):
        for images, transforms, contrast in batches:
            np.asarray(function(images, transforms, contrast))
    return passes * len(batches) * BATCH / (time.perf_counter() - start)


def runnable(functions: dict[str, Callable], batches: Batches) -> dict[str, str | None]:
    """One untimed pass of each variant (compiles); None if it ran, else why it cannot."""
    why: dict[str, str | None] = {}
    for name, function in functions.items():
        try:
            throughput(function, batches, 1)
            why[name] = None
        except tf.errors.InvalidArgumentError as error:
            missing = re.search(r"No registered '\w+' OpKernel for \w+", error.message)
            why[name] = missing[0] if missing else error.message.splitlines()[0][:100]
    return why


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="measurements of each, best kept")
    parser.add_argument("--batches", type=int, default=8, help="distinct batches per size")
    parser.add_argument("--passes", type=int, default=4, help="passes over them per measurement")
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES, help="image sides, px")
    args = parser.parse_args()
    print_machine()
    params = parse_params(yaml.safe_load((REPO / "params.yaml").read_text()))
    augment, seed = params.train.augment, params.train.seed
    layer = augmentation(augment, seed).get_layer("random_augment")  # what training builds
    labelled = variants(augment, seed)
    functions = {name: function for name, (_label, function) in labelled.items()}
    print_parameters(
        {
            "train.augment": augment.model_dump(),
            "train.seed": seed,
            "batch": BATCH,
            "sizes": args.sizes,
            "rounds": args.rounds,
            "batches": args.batches,
            "passes": args.passes,
        }
    )
    for size in args.sizes:
        batches = make_batches(size, args.batches, layer, seed)
        shape = "x".join(str(side) for side in batches[0][0].shape)  # what every variant gets
        why = runnable(functions, batches)
        names = [name for name, reason in why.items() if reason is None]
        rounds = [
            {name: throughput(functions[name], batches, args.passes) for name in names}
            for _ in tqdm(range(args.rounds), desc=f"{size} px", unit="round", leave=False)
        ]
        best = {name: max(r[name] for r in rounds) for name in names}
        print(f"\n{len(batches)} batches of {shape}, {args.passes} passes, best of {args.rounds}")
        print(f"{'variant':<60}{'img/s':>8}  rounds")
        for name, (label, _function) in labelled.items():
            if why[name] is not None:
                print(f"{label:<60}{'fails':>8}  {why[name]}")
                continue
            each = " ".join(f"{r[name]:.0f}" for r in rounds)
            print(f"{label:<60}{best[name]:8.0f}  {each}")
        fastest = max((n for n in names if n.startswith("b")), key=best.__getitem__)
        paired = statistics.median(r["a"] / r[fastest] for r in rounds)
        print(
            f"(a)/({fastest}) = {best['a'] / best[fastest]:.2f} (fastest keras.ops variant; "
            f"median of the rounds' own ratios {paired:.2f})   "
            f"(a)/(c) = {best['a'] / best['c']:.2f}"
        )


if __name__ == "__main__":
    main()

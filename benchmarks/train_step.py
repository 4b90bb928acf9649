"""Training images per second of the default model at several image sizes: what sets how many
epochs of the full archive fit the project's time budget (docs/training.md).

    python benchmarks/train_step.py [--sizes 32 48 64] [--seconds 25] [--train-images 18976]
        [--set KEY=VALUE ...]

The model of the committed params (the project's own `build_model`, its recipe and batch size,
in float32: train.mixed_precision is not applied), compiled with Adam, steps through
`train_on_batch` on random pixels for --seconds at each size after a warm-up fit; one run, sizes
in turn. Prints the machine line and those parameters, then images/s per size, each size's rate
against the first size's, and what one epoch and train.epochs of --train-images images (the full
archive's training split by default) would take at that rate. --set replaces a params.yaml key
(the smoke test: batch 4, head 8). Run it in the project's venv.
"""

import argparse
import sys
import time
from typing import TYPE_CHECKING

import yaml
from fresh_clone import REPO, add_overrides, overridden, print_machine, print_parameters

if TYPE_CHECKING:
    from genderface.params import Params


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 48, 64], help="sides, px")
    parser.add_argument("--seconds", type=float, default=25.0, help="timed steps per size")
    parser.add_argument("--train-images", type=int, default=18976, help="images in one epoch")
    add_overrides(parser)
    return parser.parse_args()


def images_per_second(params: "Params", size: int, seconds: float) -> float:
    """train_on_batch throughput of the params' model at `size` px, random pixels."""
    import numpy as np

    from genderface.modeling.model import build_model

    batch = params.train.batch_size
    model = build_model(
        size, params.model, params.train.augment, params.train.seed, recipe=params.recipe
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch, size, size, 3)).astype("float32")
    y = rng.integers(0, 2, (batch, 1)).astype("float32")
    model.train_on_batch(x, y)  # warm-up: tracing
    start, steps = time.perf_counter(), 0
    while steps == 0 or time.perf_counter() - start < seconds:
        model.train_on_batch(x, y)
        steps += 1
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    args = arguments()
    print_machine()
    sys.path.insert(0, str(REPO / "src"))
    import keras

    from genderface.params import parse_params

    params = parse_params(
        overridden(yaml.safe_load((REPO / "params.yaml").read_text()), args.overrides)
    )
    epochs = params.train.epochs
    print_parameters(
        {
            "recipe": params.recipe,
            "model.weights": params.model.weights,
            "model.batch_norm": params.model.batch_norm,
            "head units": params.model.head_units,
            "batch": params.train.batch_size,
            # train.mixed_precision is not applied: Keras' global policy, float32 unless changed
            "dtype policy": keras.config.dtype_policy().name,
            "sizes": args.sizes,
            "seconds per size": args.seconds,
            "train images": args.train_images,
            "train.epochs": epochs,
        }
    )
    rates = {size: images_per_second(params, size, args.seconds) for size in args.sizes}
    first = rates[args.sizes[0]]
    print(f"{'px':>4}{'img/s':>8}{'ratio':>8}{'epoch min':>11}{f'{epochs} epochs min':>16}")
    for size, rate in rates.items():
        epoch = args.train_images / rate / 60
        print(f"{size:>4}{rate:8.1f}{rate / first:7.2f}x{epoch:11.1f}{epoch * epochs:16.1f}")


if __name__ == "__main__":
    main()

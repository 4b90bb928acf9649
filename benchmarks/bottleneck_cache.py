"""Phase-1 epoch time with the bottleneck cache against recomputing the frozen VGG16 every epoch.

    python benchmarks/bottleneck_cache.py [--sample ../shared/data/genderface-sample.zip]
                                          [--size 150] [--epochs 3] [--set KEY=VALUE ...]

The bottleneck cache exists in the transfer recipe's phase 1 only, so the run sets
`train.recipe: transfer` on a plain VGG16 (`model.batch_norm: false`, as ImageNet's; random
weights, `model.weights: none`: the cost per epoch does not depend on their values), phase 1 only
(`train.fine_tune_epochs: 0`, no early stop, threshold 0.5), whole pictures (`data.framing:
whole`: the face finder would only lengthen the untimed preprocessing). On a fresh clone of this
repository, `dvc repro preprocess` turns the real 3,000-image sample into shards at --size
pixels; then the project's own `training.train` runs phase 1 twice with the same params: once
with `train.augment_head: true` and every augmentation factor at 0 (the full model runs, base
included, each epoch, on the same images) and once with `augment_head: false` (the base's
features are computed once, then the head trains on them). Prints the machine line and the
parameters, then each epoch's seconds, the one-time feature pass, and the per-epoch speed-up.
--set replaces a params.yaml key for a smaller run (the smoke test in tests/test_benchmarks.py);
one that takes the run off the transfer recipe is refused. Run it in the project's venv.
"""

import sys
import time

import keras
from fresh_clone import (
    add_overrides,
    plain_vgg16,
    preprocessed_clone,
    print_machine,
    print_parameters,
    sample_parser,
    sample_path,
)


class EpochTimer(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def main() -> None:
    parser = sample_parser(__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=3)
    add_overrides(parser)
    args = parser.parse_args()
    print_machine()
    sample = sample_path(args)
    changes = plain_vgg16(args.size) | {
        "train": {
            "recipe": "transfer",
            "epochs": args.epochs,
            "fine_tune_epochs": 0,
            "early_stopping_patience": args.epochs,
            "threshold": 0.5,
        },
    }
    with preprocessed_clone(sample, changes, args.overrides) as (clone, raw):
        from genderface.data.input_pipeline import TrainingData
        from genderface.modeling.training import train
        from genderface.params import parse_params

        settings = parse_params(raw)
        if settings.recipe != "transfer":
            sys.exit(f"error: recipe {settings.recipe}: only the transfer recipe caches features")
        data = TrainingData.from_shards(clone / "data/shards")
        images = data.info.size("train") + data.info.size("validation")
        print_parameters(
            {
                "recipe": settings.recipe,
                "model.weights": settings.model.weights,
                "model.batch_norm": settings.model.batch_norm,
                "image size (shards)": f"{data.info.image_size} px",
                "images per epoch (train + validation)": images,
                "phase-1 epochs": settings.train.epochs,
                "batch": settings.train.batch_size,
                "head units": settings.model.head_units,
                "train.mixed_precision": settings.train.mixed_precision,
                "train.deterministic": settings.train.deterministic,
            }
        )
        timings, policies = {}, set()
        for cached in (False, True):
            cfg = raw["train"] | {"augment_head": not cached}
            if not cached:
                cfg["augment"] = {k: 0 if k != "flip" else False for k in cfg["augment"]}
            params = parse_params(raw | {"train": cfg})
            timer = EpochTimer()
            start = time.perf_counter()
            classifier = train(params, data, callbacks=[timer])
            timings[cached] = (time.perf_counter() - start, timer.seconds)
            policies.add(classifier.info.provenance["mixed_precision"])
    (full_total, full), (cached_total, head) = timings[False], timings[True]
    features = cached_total - sum(head)
    print(f"dtype policy the runs trained under: {', '.join(sorted(policies))}")
    print(f"{'phase-1 epoch':<44}{'seconds per epoch':>20}")
    print(f"{'recomputing VGG16 every epoch':<44}{min(full):20.2f}")
    print(f"{'bottleneck cache (head on cached features)':<44}{min(head):20.2f}")
    print(f"{'one-time feature pass (incl. model build)':<44}{features:20.2f}")
    print(f"speed-up per epoch: {min(full) / min(head):.1f}x (target >= 10x)")
    print(f"whole phase 1 ({args.epochs} epochs): {full_total / cached_total:.1f}x")


if __name__ == "__main__":
    main()

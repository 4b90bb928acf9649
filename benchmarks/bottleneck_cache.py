"""Phase-1 epoch time with the bottleneck cache against recomputing the frozen VGG16 every epoch.

    python benchmarks/bottleneck_cache.py [--sample ../shared/data/genderface-sample.zip]
                                          [--size 150] [--epochs 3] [--set KEY=VALUE ...]

On a fresh clone of this repository, `dvc repro preprocess` turns the real 3,000-image sample
into shards at --size pixels; then the project's own `training.train` runs phase 1 twice with the
same params: once with `train.augment_head: true` and every augmentation factor at 0 (the full
model runs, base included, each epoch, on the same images) and once with `augment_head: false`
(the base's features are computed once, then the head trains on them). Prints each epoch's
seconds, the one-time feature pass, and the per-epoch speed-up. --set replaces a params.yaml key
for a smaller run (the smoke test in tests/test_benchmarks.py). Run it in the project's venv.
"""

import time

import keras
from fresh_clone import add_overrides, preprocessed_clone, sample_parser, sample_path


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
    sample = sample_path(args)
    changes = {
        "data": {"image_size": args.size},
        "train": {"epochs": args.epochs, "fine_tune_epochs": 0, "threshold": 0.5},
    }
    changes["train"]["early_stopping_patience"] = args.epochs
    with preprocessed_clone(sample, changes, args.overrides) as (clone, raw):
        from genderface.data.input_pipeline import TrainingData
        from genderface.modeling.training import train
        from genderface.params import parse_params

        data = TrainingData.from_shards(clone / "data/shards")
        images = data.info.size("train") + data.info.size("validation")
        timings = {}
        for cached in (False, True):
            cfg = raw["train"] | {"augment_head": not cached}
            if not cached:
                cfg["augment"] = {k: 0 if k != "flip" else False for k in cfg["augment"]}
            params = parse_params(raw | {"train": cfg})
            timer = EpochTimer()
            start = time.perf_counter()
            train(params, data, callbacks=[timer])
            timings[cached] = (time.perf_counter() - start, timer.seconds)
    (full_total, full), (cached_total, head) = timings[False], timings[True]
    features = cached_total - sum(head)
    print(f"{args.size} px, {images} images per epoch (train + validation), {args.epochs} epochs")
    print(f"{'phase-1 epoch':<44}{'seconds per epoch':>20}")
    print(f"{'recomputing VGG16 every epoch':<44}{min(full):20.2f}")
    print(f"{'bottleneck cache (head on cached features)':<44}{min(head):20.2f}")
    print(f"{'one-time feature pass (incl. model build)':<44}{features:20.2f}")
    print(f"speed-up per epoch: {min(full) / min(head):.1f}x (target >= 10x)")
    print(f"whole phase 1 ({args.epochs} epochs): {full_total / cached_total:.1f}x")


if __name__ == "__main__":
    main()

"""Training throughput in float32 against the precision `auto` picks here (mixed_bfloat16 on a CPU
with native bfloat16), and what else speeds up a CPU step.

    python benchmarks/cpu_precision.py [--sample ../shared/data/genderface-sample.zip]
        [--rounds 3] [--steps 10] [--feature-batches 30] [--policy auto] [--set KEY=VALUE ...]

On a fresh clone of this repository, `dvc repro preprocess` turns the real 3,000-image sample into
shards at the committed params (64 px); models are built by the project's own `build_model`
(weights none) under each policy. Measured, in interleaved rounds in one run:
- phase 1: the bottleneck feature pass over --feature-batches train batches (`labelled_outputs` on
  `feature_extractor`, as training runs it over each split, trace included);
- phase 2: `fit` over --steps batches with VGG16's top 2 blocks unfrozen, as training does, after
  a warm-up fit; the committed params (op determinism, batch 32) in float32 and in the policy,
  then the policy with op determinism off, with XLA (which needs determinism off), and batch 64.
Prints each round, then the median img/s and the median of each round's ratio to float32 in
that round (the two sides of a ratio run minutes apart, not a whole run apart, so load from
other jobs on the machine hits both). --set replaces a params.yaml key for a smaller run (the
smoke test in tests/test_benchmarks.py: a few generated images, data.image_size=32, one round).
Run it in the project's venv.
"""

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from fresh_clone import add_overrides, preprocessed_clone, sample_parser, sample_path


def main() -> None:
    parser = sample_parser(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="phase-2 batches per round")
    parser.add_argument("--feature-batches", type=int, default=30, help="phase-1 batches per round")
    parser.add_argument(
        "--policy", default="auto", help="auto (this machine's choice) or a Keras policy name"
    )
    add_overrides(parser)
    args = parser.parse_args()
    sample = sample_path(args)
    with preprocessed_clone(sample, {}, args.overrides) as (clone, raw):
        measure(clone / "data/shards", raw, args)


def measure(shards: Path, raw: dict, args: argparse.Namespace) -> None:
    import keras
    import tensorflow as tf

    # Keras reads op determinism from here too (it turns jit_compile off under it).
    from tensorflow.python.framework.config import (
        disable_op_determinism,
        enable_op_determinism,
    )

    from genderface.data.input_pipeline import TrainingData, batched
    from genderface.modeling.devices import cpu_flags, precision, resolve_policy
    from genderface.modeling.forward import labelled_outputs
    from genderface.modeling.model import build_model, feature_extractor, prepare_fine_tuning
    from genderface.modeling.training import OPTIMIZERS
    from genderface.params import parse_params

    params = parse_params(raw)
    cfg = params.train
    gpu = bool(tf.config.list_physical_devices("GPU"))
    policy = resolve_policy(args.policy, gpu, cpu_flags())
    data = TrainingData.from_shards(shards)
    for _ in batched(data.train, 256):  # fill the in-memory cache before anything is timed
        pass
    print(f"{params.data.image_size} px, batch {cfg.batch_size}, policy here: {policy}")

    def model_under(dtype_policy: str) -> keras.Model:
        with precision(dtype_policy):
            # the transfer recipe's two phases are what this measures
            return build_model(
                params.data.image_size, params.model, cfg.augment, cfg.seed, recipe="transfer"
            )

    def feature_pass(dtype_policy: str) -> Callable[[], float]:
        extractor = feature_extractor(model_under(dtype_policy))

        batches = batched(data.train, cfg.batch_size).take(args.feature_batches)

        def run() -> float:
            enable_op_determinism()
            start = time.perf_counter()
            labels, _ = labelled_outputs(extractor, batches, "features")
            return len(labels) / (time.perf_counter() - start)

        return run

    def training_step(dtype_policy: str, deterministic: bool, xla: bool, batch: int):
        model = model_under(dtype_policy)
        prepare_fine_tuning(model, cfg.fine_tune_blocks)
        train = batched(data.train, batch).take(args.steps)

        def run() -> float:
            (enable_op_determinism if deterministic else disable_op_determinism)()
            start = time.perf_counter()
            model.fit(train, epochs=1, verbose=0)
            return args.steps * batch / (time.perf_counter() - start)

        (enable_op_determinism if deterministic else disable_op_determinism)()
        model.compile(
            optimizer=OPTIMIZERS[cfg.optimizer](learning_rate=cfg.fine_tune_learning_rate),
            loss=keras.losses.BinaryCrossentropy(),
            metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
            jit_compile=xla,
        )
        model.fit(batched(data.train, batch).take(2), epochs=1, verbose=0)  # trace (and compile)
        return run

    batch = cfg.batch_size
    cases = {
        "phase 1 feature pass, float32": feature_pass("float32"),
        f"phase 1 feature pass, {policy}": feature_pass(policy),
        "phase 2 step, float32": training_step("float32", True, False, batch),
        f"phase 2 step, {policy}": training_step(policy, True, False, batch),
        f"phase 2 step, {policy}, determinism off": training_step(policy, False, False, batch),
        f"phase 2 step, {policy}, determinism off, XLA": training_step(policy, False, True, batch),
        f"phase 2 step, {policy}, batch {2 * batch}": training_step(policy, True, False, 2 * batch),
    }
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(args.rounds):
        for name, run in cases.items():
            rates[name].append(run())
            print(f"round {round_ + 1}: {name}: {rates[name][-1]:.1f} img/s", flush=True)
    print(
        f"\n{'median of ' + str(args.rounds) + ' interleaved rounds':<56}{'img/s':>8}{'ratio':>8}"
    )
    ratios = {}
    for name, values in rates.items():
        base = rates[f"{name.split(',')[0]}, float32"]
        ratios[name] = statistics.median(v / b for v, b in zip(values, base, strict=True))
        print(f"{name:<56}{statistics.median(values):8.1f}{ratios[name]:7.2f}x")
    step = ratios[f"phase 2 step, {policy}"]
    print(f"phase-2 training, {policy} / float32: {step:.2f}x (target >= 1.4x)")


if __name__ == "__main__":
    main()

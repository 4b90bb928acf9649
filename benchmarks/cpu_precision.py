"""Training throughput in float32 against the precision `auto` picks here (mixed_bfloat16 on a CPU
with native bfloat16), and what else speeds up a CPU step.

    python benchmarks/cpu_precision.py [--sample ../shared/data/genderface-sample.zip]
        [--size 64] [--rounds 3] [--steps 10] [--feature-batches 30] [--policy auto]
        [--set KEY=VALUE ...]

On a fresh clone of this repository, `dvc repro preprocess` turns the real 3,000-image sample into
shards at --size px (64 by default, the size the figures in docs/performance.md were measured
at), whole pictures (`data.framing: whole`: the face finder would only lengthen the untimed
preprocessing); models are built by the project's own `build_model` as the transfer recipe
builds them, on a plain VGG16 (`model.batch_norm: false`, as ImageNet's) with random weights
(`model.weights: none`: speed does not depend on their values), under each policy. The machine
line and these parameters are printed first. Measured, in interleaved rounds in one run:
- phase 1: the bottleneck feature pass over --feature-batches train batches (`labelled_outputs` on
  `feature_extractor`, as training runs it over each split, trace included);
- phase 2: `fit` over --steps batches with VGG16's top 2 blocks unfrozen, as training does, after
  a warm-up fit; the committed params (op determinism, batch 32) in float32 and in the policy,
  then the policy with op determinism off, with XLA (which needs determinism off), and batch 64.
Prints each round, then the median img/s and the median of each round's ratio to float32 in
that round (the two sides of a ratio run minutes apart, not a whole run apart, so load from
other jobs on the machine hits both). --set replaces a params.yaml key for a smaller run (the
smoke test in tests/test_benchmarks.py: a few generated images, one round).
Run it in the project's venv.
"""

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fresh_clone import (
    add_overrides,
    plain_vgg16,
    preprocessed_clone,
    print_machine,
    print_parameters,
    sample_parser,
    sample_path,
)

if TYPE_CHECKING:
    import keras

    from genderface.data.input_pipeline import TrainingData
    from genderface.params import Params


def main() -> None:
    parser = sample_parser(__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="image side, px")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="phase-2 batches per round")
    parser.add_argument("--feature-batches", type=int, default=30, help="phase-1 batches per round")
    parser.add_argument(
        "--policy", default="auto", help="auto (this machine's choice) or a Keras policy name"
    )
    add_overrides(parser)
    args = parser.parse_args()
    flags = print_machine().flags
    sample = sample_path(args)
    with preprocessed_clone(sample, plain_vgg16(args.size), args.overrides) as (clone, raw):
        measure(clone / "data/shards", raw, args, flags)


@dataclass(frozen=True)
class Step:
    """One phase-2 case: op determinism on or off, XLA on or off, the batch size."""

    deterministic: bool
    xla: bool
    batch: int


def model_under(dtype_policy: str, params: "Params") -> "keras.Model":
    """The project's model under `dtype_policy`: the transfer recipe, whose two phases this
    measures."""
    from genderface.modeling.devices import precision
    from genderface.modeling.model import build_model

    cfg = params.train
    with precision(dtype_policy):
        return build_model(
            params.data.image_size, params.model, cfg.augment, cfg.seed, recipe="transfer"
        )


def feature_pass(
    dtype_policy: str, params: "Params", data: "TrainingData", batches: int
) -> Callable[[], float]:
    """A timer of phase 1's feature pass over `batches` train batches (trace included): img/s."""
    from genderface.data.input_pipeline import batched
    from genderface.modeling.forward import labelled_outputs
    from genderface.modeling.model import feature_extractor

    extractor = feature_extractor(model_under(dtype_policy, params))
    train = batched(data.train, params.train.batch_size).take(batches)

    def run() -> float:
        set_determinism(True)
        start = time.perf_counter()
        labels, _ = labelled_outputs(extractor, train, "features")
        return len(labels) / (time.perf_counter() - start)

    return run


def training_step(
    dtype_policy: str, params: "Params", data: "TrainingData", steps: int, case: Step
) -> Callable[[], float]:
    """A timer of phase 2's `fit` over `steps` batches, VGG16's top blocks unfrozen as training
    unfreezes them, traced (and compiled) by a warm-up fit first: img/s."""
    import keras

    from genderface.data.input_pipeline import batched
    from genderface.modeling.model import prepare_fine_tuning
    from genderface.modeling.training import OPTIMIZERS

    cfg = params.train
    model = model_under(dtype_policy, params)
    prepare_fine_tuning(model, cfg.fine_tune_blocks)
    set_determinism(case.deterministic)
    model.compile(
        optimizer=OPTIMIZERS[cfg.optimizer](learning_rate=cfg.fine_tune_learning_rate),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
        jit_compile=case.xla,
    )
    model.fit(batched(data.train, case.batch).take(2), epochs=1, verbose=0)
    train = batched(data.train, case.batch).take(steps)

    def run() -> float:
        set_determinism(case.deterministic)
        start = time.perf_counter()
        model.fit(train, epochs=1, verbose=0)
        return steps * case.batch / (time.perf_counter() - start)

    return run


def set_determinism(on: bool) -> None:
    """TensorFlow's op determinism on or off; Keras reads it too (it turns jit_compile off under
    it)."""
    from tensorflow.python.framework.config import disable_op_determinism, enable_op_determinism

    (enable_op_determinism if on else disable_op_determinism)()


def interleaved(cases: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Every case once per round, round after round, each rate printed as it comes."""
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(rounds):
        for name, run in cases.items():
            rates[name].append(run())
            print(f"round {round_ + 1}: {name}: {rates[name][-1]:.1f} img/s", flush=True)
    return rates


def report(rates: dict[str, list[float]], policy: str) -> None:
    """Median img/s per case and the median of its per-round ratio to float32 in that round."""
    rounds = len(next(iter(rates.values())))
    print(f"\n{'median of ' + str(rounds) + ' interleaved rounds':<56}{'img/s':>8}{'ratio':>8}")
    ratios = {}
    for name, values in rates.items():
        base = rates[f"{name.split(',')[0]}, float32"]
        ratios[name] = statistics.median(v / b for v, b in zip(values, base, strict=True))
        print(f"{name:<56}{statistics.median(values):8.1f}{ratios[name]:7.2f}x")
    step = ratios[f"phase 2 step, {policy}"]
    print(f"phase-2 training, {policy} / float32: {step:.2f}x (target >= 1.4x)")


def measure(shards: Path, raw: dict, args: argparse.Namespace, flags: frozenset[str]) -> None:
    import tensorflow as tf

    from genderface.data.input_pipeline import TrainingData, batched
    from genderface.modeling.devices import resolve_policy
    from genderface.params import parse_params

    params = parse_params(raw)
    gpu = bool(tf.config.list_physical_devices("GPU"))
    policy = resolve_policy(args.policy, gpu, flags)
    data = TrainingData.from_shards(shards)
    for _ in batched(data.train, 256):  # fill the in-memory cache before anything is timed
        pass
    batch = params.train.batch_size
    print_parameters(
        {
            "image size (shards)": f"{data.info.image_size} px",
            "model.weights": params.model.weights,
            "model.batch_norm": params.model.batch_norm,
            "model.pooling": params.model.pooling,
            "head units": params.model.head_units,
            "batch": batch,
            "fine-tuned blocks": params.train.fine_tune_blocks,
            "policy here": policy,
            "rounds": args.rounds,
            "phase-2 steps": args.steps,
            "feature batches": args.feature_batches,
        }
    )

    def features(dtype_policy: str) -> Callable[[], float]:
        return feature_pass(dtype_policy, params, data, args.feature_batches)

    def step(dtype_policy: str, case: Step) -> Callable[[], float]:
        return training_step(dtype_policy, params, data, args.steps, case)

    # Built by name, once each: where the policy here is float32, its pairs are one case.
    makers: dict[str, Callable[[], Callable[[], float]]] = {
        "phase 1 feature pass, float32": lambda: features("float32"),
        f"phase 1 feature pass, {policy}": lambda: features(policy),
        "phase 2 step, float32": lambda: step("float32", Step(True, False, batch)),
        f"phase 2 step, {policy}": lambda: step(policy, Step(True, False, batch)),
        f"phase 2 step, {policy}, determinism off": lambda: step(policy, Step(False, False, batch)),
        f"phase 2 step, {policy}, determinism off, XLA": lambda: step(
            policy, Step(False, True, batch)
        ),
        f"phase 2 step, {policy}, batch {2 * batch}": lambda: step(
            policy, Step(True, False, 2 * batch)
        ),
    }
    cases = {name: make() for name, make in makers.items()}
    report(interleaved(cases, args.rounds), policy)


if __name__ == "__main__":
    main()

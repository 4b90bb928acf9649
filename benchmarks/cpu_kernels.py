"""What train.deterministic costs in training speed: the CPU kernels pinned (float32, oneDNN capped
at AVX2, 2 intra-op threads: the same bytes on any x86-64 CPU) against float32 unpinned (every
instruction set and core) and this CPU's best (train.deterministic false with mixed_precision
auto: bfloat16 where the CPU has it), in training images per second at each size.

    python benchmarks/cpu_kernels.py [--sizes 32 64] [--seconds 20] [--set KEY=VALUE ...]

The model of the committed params (`build_model`, its recipe and batch size) steps through
`train_on_batch` on random pixels for --seconds after a warm-up, as benchmarks/train_step.py
does; each case runs in a process of its own, since the pin must come before TensorFlow's first
op. Prints the machine line and the parameters, then per size the three rates and pinned / each
unpinned one (one run, cases in turn). --set replaces a params.yaml key (the smoke test: batch
4, head 8).
"""

import argparse
import json
import os
import subprocess
import sys

import yaml
from fresh_clone import REPO, add_overrides, overridden, print_machine, print_parameters

CASES = {"pinned": (True, "auto"), "float32": (False, "float32"), "best": (False, "auto")}
"""Case name -> train.deterministic, train.mixed_precision."""


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64], help="sides, px")
    parser.add_argument("--seconds", type=float, default=20.0, help="timed steps per case")
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)  # a child process
    add_overrides(parser)
    return parser.parse_args()


def measure(case: str, sizes: list[int], seconds: float, overrides: list[str]) -> None:
    """In a child process: pin (or not) the kernels, then print {size: images/s} as JSON."""
    sys.path.insert(0, str(REPO / "src"))
    from train_step import images_per_second

    from genderface.machine import this_machine
    from genderface.modeling.devices import ISA_ENV, pin_cpu_kernels, precision, resolve_policy
    from genderface.params import parse_params

    raw = overridden(yaml.safe_load((REPO / "params.yaml").read_text()), overrides)
    raw["train"]["deterministic"], raw["train"]["mixed_precision"] = CASES[case]
    params = parse_params(raw)
    pin_cpu_kernels(params.train.deterministic)
    policy = resolve_policy(
        params.train.mixed_precision, False, this_machine().flags, params.train.deterministic
    )
    with precision(policy):
        rates = {size: images_per_second(params, size, seconds) for size in sizes}
    import tensorflow as tf  # loaded by now: what the pin set, as the kernels saw it

    kernels = {
        "isa": os.environ.get(ISA_ENV, "all"),
        "threads": tf.config.threading.get_intra_op_parallelism_threads() or "all",
    }
    print(json.dumps({"policy": policy, "kernels": kernels, "rates": rates}))


def run_case(case: str, args: argparse.Namespace) -> dict:
    sets = [f"--set={item}" for item in args.overrides]
    command = [sys.executable, __file__, "--case", case, "--seconds", str(args.seconds)]
    command += ["--sizes", *map(str, args.sizes), *sets]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    args = arguments()
    if args.case:
        measure(args.case, args.sizes, args.seconds, args.overrides)
        return
    print_machine()
    raw = overridden(yaml.safe_load((REPO / "params.yaml").read_text()), args.overrides)
    print_parameters(
        {
            "recipe": raw["train"]["recipe"],
            "model.weights": raw["model"]["weights"],
            "model.batch_norm": raw["model"]["batch_norm"],
            "head units": raw["model"]["head_units"],
            "batch": raw["train"]["batch_size"],
            "train.mixed_precision": raw["train"]["mixed_precision"],
            "sizes": args.sizes,
            "seconds per case": args.seconds,
        }
    )
    results = {case: run_case(case, args) for case in CASES}
    print(
        "; ".join(
            f"{case}: {result['policy']}, ISA {result['kernels']['isa']}, "
            f"threads {result['kernels']['threads']}"
            for case, result in results.items()
        )
    )
    print(
        f"{'px':>4}{'pinned':>9}{'float32':>9}{'best':>9}  img/s"
        f"{'pinned/f32':>12}{'pinned/best':>13}"
    )
    for size in args.sizes:
        pinned, f32, best = (results[case]["rates"][str(size)] for case in CASES)
        print(
            f"{size:>4}{pinned:9.1f}{f32:9.1f}{best:9.1f}       "
            f"{pinned / f32:11.2f}x{pinned / best:12.2f}x"
        )


if __name__ == "__main__":
    main()

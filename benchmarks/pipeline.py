"""Time the pipeline as a user meets it, on a fresh clone of this repository.

    python benchmarks/pipeline.py [--sample ../shared/data/genderface-sample.zip]
        [--fairface ../shared/data/fairface-540.zip] [--precision] [--set KEY=VALUE ...]

Measures, in one run: `dvc repro` of the committed (demo) params, a second `dvc repro` that must
find nothing to do, and `dvc exp run -S data.sources.archive.source=path -S
data.sources.archive.path=<sample>` (params.yaml's first source) on real data with the committed
params otherwise, fairface-540 scored as `evaluate.external`. Prints wall times
against the targets, the test scores and fairface-540's, overall and by age group. --sample is
the 3,000-image sample by default; the full archive (a folder holding faces/man and faces/woman,
docs/development.md says how to get it) is the issue-17 benchmark.

With --precision: the sample end to end twice in one fresh clone, every stage run each time
(`dvc exp run -f`), both with `train.deterministic=false` (which would otherwise pin float32),
once with `train.mixed_precision=float32` and once with `auto` (mixed_bfloat16 on a CPU with
native bfloat16), fairface-540 scored as the external folder through the face crop. Prints both
wall times and their ratio, `genderface compare float32 auto` (both runs' test scores, the
paired difference and McNemar's exact test), and the auto model's external scores by group from
its model card.

Either way --set replaces a params.yaml key in the clone before anything runs (the smoke test in
tests/test_benchmarks.py: demo and a few generated images at 32 px, one epoch per phase); e.g.
`--precision --set data.image_size=64 --set train.epochs=8` for a larger model. Prints the
machine line first, the parameters the clone's params.yaml holds then, and after the runs the
same keys as dvc.lock recorded them (what the last run read).
Run it from the project's virtual environment (`make setup`).
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from fresh_clone import (
    add_fairface,
    add_overrides,
    fresh_clone,
    overridden,
    print_machine,
    print_parameters,
    project_env,
    reading,
    sample_parser,
    sample_path,
    unpacked,
)

# What every figure of this script depends on; any key given to --set is shown too.
SHOWN = (
    "data.image_size",
    "data.framing",
    "model.weights",
    "model.batch_norm",
    "train.recipe",
    "train.epochs",
    "train.fine_tune_epochs",
    "train.batch_size",
    "train.mixed_precision",
    "train.deterministic",
)


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def flat(tree: dict, prefix: str = "") -> dict[str, object]:
    """{"a": {"b": 1}} -> {"a.b": 1}: params.yaml's keys as --set and dvc.lock name them."""
    keys: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            keys |= flat(value, f"{prefix}{key}.")
        else:
            keys[f"{prefix}{key}"] = value
    return keys


def shown(values: dict[str, object], overrides: list[str]) -> dict[str, object]:
    """SHOWN's keys and every --set key, with its value in `values` (a key no stage reads is
    absent from dvc.lock, and said so)."""
    keys = dict.fromkeys([*SHOWN, *(item.partition("=")[0] for item in overrides)])
    return {key: values.get(key, "(read by no stage)") for key in keys}


def prepared(clone: Path, overrides: list[str]) -> None:
    """The clone's params.yaml with --set applied (untouched without), and the parameters
    printed."""
    raw = overridden(yaml.safe_load((clone / "params.yaml").read_text()), overrides)
    if overrides:
        (clone / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    print_parameters(shown(flat(raw), overrides))


def print_locked(clone: Path, overrides: list[str]) -> None:
    """The same keys as dvc.lock recorded them: what the last run read, not what was asked."""
    lock = yaml.safe_load((clone / "dvc.lock").read_text())
    read: dict[str, object] = {}
    for stage in lock["stages"].values():
        read |= stage.get("params", {}).get("params.yaml", {})
    parameters = shown(read, overrides)
    print("dvc.lock, last run: " + ", ".join(f"{k} {v}" for k, v in parameters.items()))


def precision_comparison(sample: Path, fairface: Path, overrides: list[str]) -> None:
    """float32 against auto: the sample end to end twice in one fresh clone (`dvc exp run -f`,
    every stage run each time), fairface-540 as the external folder through the face crop; then
    `genderface compare` on the two experiments and the auto run's scores by group."""
    with fresh_clone() as clone, tempfile.TemporaryDirectory() as tmp:
        external = unpacked(fairface, Path(tmp))
        env = project_env(clone)
        prepared(clone, overrides)
        seconds = {}
        for setting in ("float32", "auto"):
            print(f"sample end to end, train.mixed_precision={setting} ...", flush=True)
            seconds[setting] = timed(
                [
                    "dvc", "exp", "run", "-f", "-n", setting,
                    *reading(clone, sample),
                    # deterministic pins float32 whatever the precision says: off in both runs
                    "-S", f"train.mixed_precision={setting}", "-S", "train.deterministic=false",
                    "-S", f"evaluate.external={external}",
                ],
                clone,
                env,
            )  # fmt: skip
        made = json.loads((clone / "models/model.json").read_text())["provenance"]
        trained = made["mixed_precision"]
        print_locked(clone, overrides)
        print(f"{'train.mixed_precision':<24}{'seconds':>9}")
        for setting, value in seconds.items():
            print(f"{setting:<24}{value:9.1f}")
        ratio = seconds["float32"] / seconds["auto"]
        print(f"auto trained under {trained}; wall-time ratio float32 / auto: {ratio:.2f}x")
        compare = [str(Path(sys.executable).with_name("genderface")), "compare", "float32", "auto"]
        print(subprocess.run(compare, cwd=clone, env=env, capture_output=True, text=True).stdout)
        card = (clone / "models/MODEL_CARD.md").read_text()
        print(card[card.index("## External folder") : card.index("## Intended use")])


def scored(groups: dict) -> dict[str, dict]:
    """An attribute's groups by name: not its largest_gap or left_out entries."""
    return {
        name: group for name, group in groups.items() if isinstance(group, dict) and "n" in group
    }


def with_interval(scores: dict, name: str) -> str:
    interval = scores[f"{name}_ci"]
    return f"{scores[name]:.3f} ({interval['low']:.3f}-{interval['high']:.3f})"


def external_scores(external: dict) -> str:
    """fairface-540's lines: overall scores with 95% intervals, then accuracy per group of each
    attribute (Wilson intervals), worst first."""
    lines = [
        f"fairface-540 ({external['images']} images, {external.get('no_face', 0)} without a face "
        f"found): accuracy {with_interval(external, 'accuracy')}, balanced accuracy "
        f"{with_interval(external, 'balanced_accuracy')}, ROC-AUC "
        f"{with_interval(external, 'roc_auc')}"
    ]
    for attribute, groups in external.get("groups", {}).items():
        rows = sorted(
            (scores["accuracy"], group, scores) for group, scores in scored(groups).items()
        )
        shown = [
            f"{group} {value:.3f} ({scores['accuracy_low']:.3f}-{scores['accuracy_high']:.3f})"
            for value, group, scores in rows
        ]
        lines.append(f"  accuracy by {attribute}, worst first: {', '.join(shown)}")
    return "\n".join(lines)


def main() -> None:
    parser = sample_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--precision", action="store_true", help="the sample end to end in float32 and in auto"
    )
    add_fairface(parser)
    add_overrides(parser)
    args = parser.parse_args()
    print_machine()
    sample = sample_path(args, folders=True)
    if args.precision:
        precision_comparison(sample, args.fairface.resolve(), args.overrides)
        return
    with fresh_clone() as clone, tempfile.TemporaryDirectory() as tmp:
        external = unpacked(args.fairface.resolve(), Path(tmp))
        env = project_env(clone)
        prepared(clone, args.overrides)
        demo = timed(["dvc", "repro"], clone, env)
        noop = timed(["dvc", "repro"], clone, env)
        real = timed(
            [
                "dvc", "exp", "run", *reading(clone, sample),
                "-S", f"evaluate.external={external}",
            ],
            clone,
            env,
        )  # fmt: skip
        scores = json.loads((clone / "metrics/eval/metrics.json").read_text())
        test = scores["test"]
        classes = json.loads((clone / "models/model.json").read_text())["classes"]
        curve = (clone / "metrics/train/plots/metrics/eval/auc.tsv").read_text().splitlines()
        auc = [f"{float(row.split()[1]):.2f}" for row in curve[1:]]
        print_locked(clone, args.overrides)
    print(f"{'what':<44}{'seconds':>9}  target")
    print(f"{'dvc repro, demo params, fresh clone':<44}{demo:9.1f}  < 600 (with install)")
    print(f"{'dvc repro again (nothing to do)':<44}{noop:9.1f}  < 5   ({noop / 5:.2f} of it)")
    print(
        f"{'dvc exp run on the real data':<44}{real:9.1f}  < 1800 sample "
        f"({real / 1800:.2f} of it), < 4500 full archive ({real / 4500:.2f} of it)"
    )
    print(
        f"test scores: accuracy {test['accuracy']:.3f}, balanced accuracy "
        f"{with_interval(test, 'balanced_accuracy')}, majority baseline "
        f"{test['baseline_accuracy']:.3f}, "
        f"ROC-AUC {test['roc_auc']:.3f}, PR-AUC {test['average_precision']:.3f}, log loss "
        f"{test['log_loss']:.3f}, ECE {test['ece']:.3f} ({test['images']} images, threshold "
        f"{test['threshold']:.3f})"
    )
    for name in classes:
        precision, recall = test[name]["precision"], test[name]["recall"]
        print(f"  {name}: precision {precision:.3f}, recall {recall:.3f}")
    print(f"validation AUC per epoch (both phases): {', '.join(auc)}")
    print(external_scores(scores["external"]))


if __name__ == "__main__":
    main()

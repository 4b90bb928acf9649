"""The archive alone against the archive + UTKFace, scored by group, in one fresh clone.

    python benchmarks/sources.py --archive <folder or archive> --utkface <folder or archive>
        [--utkface-folder data/UTKFace/unlabeled] [--fairface ../shared/data/fairface-540.zip]
        [--rate-seconds 25] [--set KEY=VALUE ...]

In one fresh clone of HEAD, --set applied to its params.yaml: `dvc exp run -n archive-only`
(params.yaml's first source reading --archive, fairface-540 as evaluate.external), then
`dvc exp run -f -n sources` with UTKFace added as a second source named utkface (`labels:
utkface`, --utkface-folder its sub-folder), every stage run again so that its time is end to end.
Then this machine's training rate at 32 px (the goals' reference) and at data.image_size
(benchmarks/train_step.py, float32, for --rate-seconds), `genderface compare archive-only
sources` on the test images both scored (the archive's) and on fairface-540, each model against
the goals below (issue 30's), fairface-540 by age, and the UTKFace test split by race and age
band. docs/development.md says how to get the archive and UTKFace; the smoke test runs it on a
few generated images. Run it from the project's virtual environment (`make setup`).
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml
from fresh_clone import (
    REPO,
    add_fairface,
    add_overrides,
    first_source,
    fresh_clone,
    overridden,
    print_machine,
    print_parameters,
    project_env,
    unpacked,
)
from pipeline import flat, scored, shown, timed, with_interval

SECOND = "utkface"
RUNS = ("archive-only", "sources")
RECIPE = ["data.face_margin", "train.balance", "train.class_weights"]  # shown beside pipeline's
# The several-sources goals: "at least" for scores, "at most" for errors and minutes. Minutes are
# for a CPU training 161 images/s at 32 px in float32 (train_step.py); compare the rate first.
FAIRFACE_ACCURACY = 0.80
WORST_AGE_ACCURACY = 0.60
WORST_ERROR = 0.40
ARCHIVE_BALANCED = 0.94
WORST_RACE_BALANCED = 0.85
MINUTES = 45
REFERENCE_RATE = 161
REFERENCE_SIZE = 32


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, required=True, help="faces/{man,woman} inside")
    parser.add_argument("--utkface", type=Path, required=True, help="UTKFace's named images")
    parser.add_argument(
        "--utkface-folder", default="", help="the sub-folder of --utkface holding the images"
    )
    add_fairface(parser)
    parser.add_argument("--rate-seconds", type=float, default=25.0, help="train_step.py's")
    add_overrides(parser)
    args = parser.parse_args()
    for path in (args.archive, args.utkface, args.fairface):
        if not path.exists():
            sys.exit(f"error: {path}: not found; docs/development.md says how to get it")
    return args


def run_params(raw: dict, archive: Path, external: Path, utkface: dict | None) -> dict:
    """params.yaml for one run: the first source reading the archive, fairface-540 external, and
    UTKFace second when given."""
    params = yaml.safe_load(yaml.safe_dump(raw))  # a deep copy
    params["data"]["sources"][first_source(params)].update(source="path", path=str(archive))
    if utkface is not None:
        params["data"]["sources"][SECOND] = utkface
    params["evaluate"]["external"] = str(external)
    return params


def experiment(clone: Path, env: dict[str, str], params: dict, name: str, force: bool) -> float:
    """`dvc exp run -n name` (with -f: every stage) on params written to the clone; seconds."""
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    print(f"dvc exp run -n {name}{' -f' if force else ''} ...", flush=True)
    return timed(["dvc", "exp", "run", "-n", name, *(["-f"] if force else [])], clone, env)


def genderface(clone: Path, env: dict[str, str], *args: str) -> str:
    command = [str(Path(sys.executable).with_name("genderface")), *args]
    return subprocess.run(
        command, cwd=clone, env=env, check=True, capture_output=True, text=True
    ).stdout


def training_rate(size: int, overrides: list[str], seconds: float, train_images: int) -> None:
    """train_step.py's table at the reference size and at data.image_size, for the train split the
    sources run had."""
    sizes = sorted({REFERENCE_SIZE, size})
    output = subprocess.run(
        [
            sys.executable, str(REPO / "benchmarks/train_step.py"), "--sizes", *map(str, sizes),
            "--seconds", str(seconds), "--train-images", str(train_images),
            *(f"--set={item}" for item in overrides),
        ],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    print("training rate, benchmarks/train_step.py (its machine line, its parameters, its table):")
    print("\n".join(f"  {line}" for line in output.splitlines()))


def worst(groups: dict, key: str) -> tuple[str, dict]:
    """The group (name, scores) with the lowest value of key, of those that have it."""
    having = {name: group for name, group in scored(groups).items() if key in group}
    name = min(having, key=lambda n: having[n][key])
    return name, having[name]


def wilson(scores: dict, key: str) -> str:
    return f"{scores[key]:.3f} ({scores[f'{key}_low']:.3f}-{scores[f'{key}_high']:.3f})"


def worst_error(ages: dict) -> str:
    """The largest error of one class within one age group, with its interval."""
    rows = {
        (name, label): scores
        for name, scores in scored(ages).items()
        for label in ("man", "woman")
        if f"{label}_error" in scores
    }
    (age, label), scores = max(rows.items(), key=lambda item: item[1][f"{item[0][1]}_error"])
    return f"{label} {age} {wilson(scores, f'{label}_error')}"


def target_rows(scores: dict[str, dict], minutes: dict[str, float], first: str) -> list[str]:
    """A markdown table: each run of scores (in its order) against each goal."""
    runs = list(scores)

    def archive_test(run: str) -> dict:
        test = scores[run]["test"]
        return test.get("sources", {}).get(first, test)

    def race(run: str) -> str:
        races = scores[run]["test"].get("groups", {}).get("race")
        if not races:
            return "-"
        name, group = worst(races, "balanced_accuracy")
        return f"{name} {wilson(group, 'balanced_accuracy')}"

    def age(run: str) -> str:
        name, group = worst(scores[run]["external"]["groups"]["age"], "accuracy")
        return f"{name} {wilson(group, 'accuracy')}"

    goals = [
        (
            f"fairface-540 accuracy >= {FAIRFACE_ACCURACY:.2f}",
            lambda run: with_interval(scores[run]["external"], "accuracy"),
        ),
        (f"fairface-540 worst age group's accuracy >= {WORST_AGE_ACCURACY:.2f}", age),
        (
            f"fairface-540 worst gender x age error <= {WORST_ERROR:.2f}",
            lambda run: worst_error(scores[run]["external"]["groups"]["age"]),
        ),
        (
            f"{first} test balanced accuracy >= {ARCHIVE_BALANCED:.2f}",
            lambda run: with_interval(archive_test(run), "balanced_accuracy"),
        ),
        (f"{SECOND} test worst race's balanced accuracy >= {WORST_RACE_BALANCED:.2f}", race),
        (
            f"end to end, minutes (<= {MINUTES} at {REFERENCE_RATE} img/s at {REFERENCE_SIZE} px)",
            lambda run: f"{minutes[run]:.1f}" if run in minutes else "-",
        ),
    ]
    lines = [f"| goal | {' | '.join(runs)} |", f"|---|{'---|' * len(runs)}"]
    lines += [f"| {goal} | {' | '.join(value(run) for run in runs)} |" for goal, value in goals]
    return lines


def group_rows(scores: dict[str, dict]) -> list[str]:
    """fairface-540 by age for every run of scores, then the last run's test split by race and
    age."""
    runs = list(scores)
    lines = ["fairface-540 by age: accuracy, man error, woman error (Wilson 95%)", ""]
    lines += [f"| age | {' | '.join(runs)} |", f"|---|{'---|' * len(runs)}"]
    ages = scores[runs[0]]["external"]["groups"]["age"]
    for age, group in scored(ages).items():
        cells = [
            ", ".join(
                wilson(scores[run]["external"]["groups"]["age"][age], key)
                for key in ("accuracy", "man_error", "woman_error")
            )
            for run in runs
        ]
        lines.append(f"| {age} (n {group['n']}) | {' | '.join(cells)} |")
    for attribute in ("race", "age"):
        groups = scores[runs[-1]]["test"].get("groups", {}).get(attribute, {})
        lines += ["", f"{runs[-1]}: test split by {attribute}: balanced accuracy (95%)", ""]
        lines += ["| group | images | balanced accuracy | man error | woman error |"]
        lines += ["|---|---|---|---|---|"]
        for name, group in scored(groups).items():
            if "balanced_accuracy" in group:
                lines.append(
                    f"| {name} | {group['n']} | {wilson(group, 'balanced_accuracy')} | "
                    f"{group['man_error']:.3f} | {group['woman_error']:.3f} |"
                )
    return lines


def main() -> None:
    args = arguments()
    print_machine()
    with fresh_clone() as clone, tempfile.TemporaryDirectory() as tmp:
        external = unpacked(args.fairface.resolve(), Path(tmp))
        env = project_env(clone)
        raw = overridden(yaml.safe_load((clone / "params.yaml").read_text()), args.overrides)
        print_parameters(
            shown(flat(raw), [*RECIPE, *args.overrides])
            | {"utkface folder": args.utkface_folder or "(all of it)"}
        )
        first = first_source(raw)
        utkface = {
            "source": "path",
            "path": str(args.utkface.resolve()),
            "folder": args.utkface_folder,
            "labels": "utkface",
            "labels_file": "",
            "licence": "UTKFace: non-commercial research only",
        }
        scores, minutes = {}, {}
        for name, second in zip(RUNS, (None, utkface), strict=True):
            params = run_params(raw, args.archive.resolve(), external, second)
            minutes[name] = experiment(clone, env, params, name, force=second is not None) / 60
            scores[name] = json.loads((clone / "metrics/eval/metrics.json").read_text())
        manifest = pd.read_csv(clone / "data/split/manifest.csv", usecols=["split"])
        train_images = int((manifest["split"] == "train").sum())
        compared = {
            split: genderface(clone, env, "compare", *RUNS, "--format", "md", "--split", split)
            for split in ("test", "external")
        }
    training_rate(raw["data"]["image_size"], args.overrides, args.rate_seconds, train_images)
    for name in RUNS:
        print(f"{name}: {minutes[name]:.1f} min end to end")
    print(f"sources run: {train_images} train images")
    for split, text in compared.items():
        print(f"\ngenderface compare {' '.join(RUNS)} --split {split}:\n\n{text}")
    print("\n".join(["", *target_rows(scores, minutes, first), "", *group_rows(scores)]))


if __name__ == "__main__":
    main()

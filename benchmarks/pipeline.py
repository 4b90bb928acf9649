"""Time the pipeline as a user meets it, on a fresh clone of this repository.

    python benchmarks/pipeline.py [--sample ../shared/data/genderface-sample.zip] [--precision]

Measures, in one run: `dvc repro` of the committed (demo) params, a second `dvc repro` that must
find nothing to do, and `dvc exp run -S data.source=<sample>` on the real 3,000-image sample with
the committed params otherwise. Prints wall times against the targets and the sample's scores.

With --precision: the sample end to end twice, each in its own fresh clone (no shared DVC cache),
once with `train.mixed_precision=float32` and once with `auto` (mixed_bfloat16 on a CPU with
native bfloat16). Prints both wall times, their ratio, both runs' test scores, and McNemar's exact
test on the two models' paired per-image test results (is one right where the other is wrong
more often than chance?), over all test images and per class (balanced accuracy's recalls).
Run it from the project's virtual environment (`make setup`).
"""

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

from fresh_clone import fresh_clone, import_from_clone, project_env, sample_parser, sample_path
from scipy.stats import binomtest


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def test_results(clone: Path) -> dict[str, tuple[str, bool]]:
    """Per test image: (true class, whether the model got it right).

    From evaluate's metrics/eval/predictions/test.csv, keyed by image hash, when the clone writes
    it; else scored here from the clone's model and test shards, keyed by position (both clones
    write identical shards).
    """
    table = clone / "metrics/eval/predictions/test.csv"
    if table.is_file():
        with table.open(newline="") as stream:
            rows = csv.DictReader(stream)
            return {row["sha256"]: (row["label"], row["label"] == row["predicted"]) for row in rows}
    import_from_clone(clone)
    from genderface import layout
    from genderface.evaluation import evaluate
    from genderface.input_pipeline import ShardInfo, batched, load_split
    from genderface.model import load_classifier

    shards = clone / layout.SHARDS_DIR
    info = ShardInfo.read(shards)
    test = batched(load_split(shards, "test", info), 64)
    result = evaluate(load_classifier(clone / layout.MODEL), test, info, bins=10)
    return {
        str(i): (info.classes[truth], bool(truth == guess))
        for i, (truth, guess) in enumerate(zip(result.y_true, result.y_pred, strict=True))
    }


def mcnemar(
    base: dict[str, tuple[str, bool]], other: dict[str, tuple[str, bool]], keys: list[str]
) -> str:
    """McNemar's exact test on paired right/wrong results: a two-sided binomial test of the
    images only one model gets right."""
    only_base = sum(base[k][1] and not other[k][1] for k in keys)
    only_other = sum(other[k][1] and not base[k][1] for k in keys)
    discordant = only_base + only_other
    p = binomtest(only_other, discordant).pvalue if discordant else 1.0
    return (
        f"{len(keys)} images, right only in float32 {only_base}, only in auto {only_other}, "
        f"McNemar exact p = {p:.3f}"
    )


def precision_comparison(sample: Path) -> None:
    """float32 against auto, the sample end to end in a fresh clone each."""
    runs = {}
    for setting in ("float32", "auto"):
        with fresh_clone() as clone:
            print(f"sample end to end, train.mixed_precision={setting} ...", flush=True)
            seconds = timed(
                [
                    "dvc", "exp", "run",
                    "-S", f"data.source={sample}",
                    "-S", f"train.mixed_precision={setting}",
                ],
                clone,
                project_env(clone),
            )  # fmt: skip
            test = json.loads((clone / "metrics/eval/metrics.json").read_text())["test"]
            trained = json.loads((clone / "models/model.json").read_text())["training_precision"]
            runs[setting] = (seconds, test, trained, test_results(clone))
    print(
        f"{'train.mixed_precision':<24}{'policy':<16}{'seconds':>9}{'accuracy':>10}{'balanced':>10}"
    )
    for setting, (seconds, test, trained, _) in runs.items():
        print(
            f"{setting:<24}{trained:<16}{seconds:9.1f}{test['accuracy']:10.3f}"
            f"{test['balanced_accuracy']:10.3f}"
        )
    (base_s, *_, base), (auto_s, *_, auto) = runs["float32"], runs["auto"]
    print(f"wall-time ratio float32 / auto: {base_s / auto_s:.2f}x (target >= 1.5x)")
    if base.keys() != auto.keys():
        sys.exit("error: the two runs scored different test images; cannot pair them")
    print(f"paired test results: {mcnemar(base, auto, sorted(base))}")
    for name in sorted({label for label, _ in base.values()}):
        keys = sorted(k for k, (label, _) in base.items() if label == name)
        print(f"  {name}: {mcnemar(base, auto, keys)}")


def main() -> None:
    parser = sample_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--precision", action="store_true", help="the sample end to end in float32 and in auto"
    )
    args = parser.parse_args()
    sample = sample_path(args)
    if args.precision:
        precision_comparison(sample)
        return
    with fresh_clone() as clone:
        env = project_env(clone)
        demo = timed(["dvc", "repro"], clone, env)
        noop = timed(["dvc", "repro"], clone, env)
        real = timed(["dvc", "exp", "run", "-S", f"data.source={sample}"], clone, env)
        test = json.loads((clone / "metrics/eval/metrics.json").read_text())["test"]
        classes = json.loads((clone / "models/model.json").read_text())["classes"]
        curve = (clone / "metrics/train/plots/metrics/eval/auc.tsv").read_text().splitlines()
        auc = [f"{float(row.split()[1]):.2f}" for row in curve[1:]]
    print(f"{'what':<44}{'seconds':>9}  target")
    print(f"{'dvc repro, demo params, fresh clone':<44}{demo:9.1f}  < 600 (with install)")
    print(f"{'dvc repro again (nothing to do)':<44}{noop:9.1f}  < 5   ({noop / 5:.2f} of it)")
    print(
        f"{'dvc exp run on the 3,000-image sample':<44}{real:9.1f}  < 1800 "
        f"({real / 1800:.2f} of it)"
    )
    print(
        f"sample test scores: accuracy {test['accuracy']:.3f}, balanced accuracy "
        f"{test['balanced_accuracy']:.3f}, majority baseline {test['baseline_accuracy']:.3f}, "
        f"ROC-AUC {test['roc_auc']:.3f}, PR-AUC {test['average_precision']:.3f}, log loss "
        f"{test['log_loss']:.3f}, ECE {test['ece']:.3f} ({test['images']} images, threshold "
        f"{test['threshold']:.3f})"
    )
    for name in classes:
        scores = test[name]
        print(f"  {name}: precision {scores['precision']:.3f}, recall {scores['recall']:.3f}")
    print(f"validation AUC per epoch (both phases): {', '.join(auc)}")


if __name__ == "__main__":
    main()

"""Time the pipeline as a user meets it, on a fresh clone of this repository.

    python benchmarks/pipeline.py [--sample ../shared/data/genderface-sample.zip]

Measures, in one run: `dvc repro` of the committed (demo) params, a second `dvc repro` that must
find nothing to do, and `dvc exp run -S data.source=path -S data.path=<sample>` on the real
3,000-image sample with the committed params otherwise. Prints wall times against the targets
and the sample's scores. Run it from the project's virtual environment (`make setup`).
"""

import json
import subprocess
import time
from pathlib import Path

from fresh_clone import fresh_clone, project_env, sample_parser, sample_path


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    sample = sample_path(sample_parser(__doc__.splitlines()[0]).parse_args())
    with fresh_clone() as clone:
        env = project_env(clone)
        demo = timed(["dvc", "repro"], clone, env)
        noop = timed(["dvc", "repro"], clone, env)
        real = timed(
            ["dvc", "exp", "run", "-S", "data.source=path", "-S", f"data.path={sample}"], clone, env
        )
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

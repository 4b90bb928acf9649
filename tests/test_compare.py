"""`genderface compare`: hand-made predictions committed at revisions of a temporary git repo."""

import io
import json
import math
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from genderface.commands import compare
from genderface.commands.cli import app
from genderface.errors import GenderfaceError
from genderface.evaluation.outputs import predictions_file

from .conftest import GIT_ENV, Project

runner = CliRunner()


def frame(labels: list[str], predicted: list[str], start: int = 0) -> pd.DataFrame:
    """Predictions of images start, start+1, ...: hash h<i>, file <label>/<i>.jpg."""
    rows = [
        {
            "sha256": f"h{i}",
            "file": f"faces/{label}/{label}_{i}.jpg",
            "label": label,
            "probability": "0.900000" if guess == "woman" else "0.100000",
            "predicted": guess,
        }
        for i, (label, guess) in enumerate(zip(labels, predicted, strict=True), start)
    ]
    return pd.DataFrame(rows, columns=compare.COLUMNS).sort_values("file")


# 60 men and 40 women; the good model errs on 4 of each, the bad one always says man.
LABELS = ["man"] * 60 + ["woman"] * 40
GOOD = ["woman"] * 4 + ["man"] * 56 + ["man"] * 4 + ["woman"] * 36
ALWAYS_MAN = ["man"] * 100


def git(root: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    run = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def put(root: Path, predictions: pd.DataFrame) -> None:
    path = root / predictions_file("test")
    path.parent.mkdir(parents=True, exist_ok=True)
    predictions.to_csv(path, index=False, lineterminator="\n")


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """main: the good model; tag `bad`: always man; experiment `shifted-seed`: the good model on
    partly other images; the workspace: the good model again."""
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "README").write_text("no predictions yet\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "before evaluate wrote predictions")
    git(tmp_path, "tag", "old")
    put(tmp_path, frame(LABELS, ALWAYS_MAN))
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "always man")
    git(tmp_path, "tag", "bad")
    put(tmp_path, frame(LABELS, GOOD))
    git(tmp_path, "commit", "-q", "-am", "good model")
    baseline = git(tmp_path, "rev-parse", "HEAD")
    # Another split seed: images 0-9 gone, 10 new ones (h100...) in; committed as DVC stores an
    # experiment, a ref under refs/exps/<baseline sha>/<name>, then the branch is left as it was.
    shifted = pd.concat([frame(LABELS, GOOD).iloc[10:], frame(["man"] * 10, ["man"] * 10, 100)])
    put(tmp_path, shifted.sort_values("file"))
    git(tmp_path, "commit", "-q", "-am", "experiment")
    ref = f"refs/exps/{baseline[:2]}/{baseline[2:]}/shifted-seed"
    git(tmp_path, "update-ref", ref, "HEAD")
    git(tmp_path, "reset", "-q", "--hard", baseline)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_json(*args: str) -> dict:
    result = runner.invoke(app, ["compare", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_external_folder_s_predictions_are_compared_with_split_external(repo):
    """--split external pairs metrics/eval/predictions/external.csv; the test split is untouched."""
    external = repo / predictions_file("external")
    frame(LABELS, ALWAYS_MAN).to_csv(external, index=False, lineterminator="\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "external scored")
    frame(LABELS, GOOD).to_csv(external, index=False, lineterminator="\n")
    assert run_json("HEAD", "workspace")["verdict"] == "no significant difference"
    result = run_json("HEAD", "workspace", "--split", "external")
    assert (result["images"], result["verdict"]) == (100, "B is better")


def test_a_revision_against_itself_differs_by_nothing(repo):
    result = run_json()  # HEAD against the workspace, which holds the same file
    assert (result["a"]["rev"], result["b"]["rev"]) == ("HEAD", "workspace")
    assert result["images"] == 100
    for metric in result["metrics"].values():
        assert metric["difference"] == {"estimate": 0.0, "low": 0.0, "high": 0.0, "p": 1.0}
    assert result["mcnemar"]["p"] == 1.0
    assert result["verdict"] == "no significant difference"
    assert result["sentence"] == "No significant difference (100 images both scored, 95% level)."
    assert run_json("HEAD", "HEAD")["metrics"] == result["metrics"]  # two revisions named alike
    table = runner.invoke(app, ["compare"]).stdout
    assert table.count("+0.0000 │ [+0.0000, +0.0000] │ p = 1 ") == 2
    assert table.rstrip().endswith(result["sentence"])


def test_a_clearly_worse_model_is_named_with_its_p_value(repo):
    result = run_json("bad", "main")
    accuracy = result["metrics"]["accuracy"]
    assert (accuracy["a"], accuracy["b"]) == (0.6, 0.92)
    assert result["metrics"]["balanced_accuracy"]["a"] == 0.5
    exact = 2 * sum(math.comb(40, k) for k in range(5)) / 2**40
    assert result["mcnemar"] == {"only_a_right": 4, "only_b_right": 36, "p": pytest.approx(exact)}
    assert result["mcnemar"]["p"] < 0.01
    assert accuracy["difference"]["low"] > 0
    assert result["verdict"] == "B is better"
    assert run_json("main", "bad")["verdict"] == "A is better"


def test_the_table_says_a_b_difference_interval_p_and_verdict(repo):
    result = runner.invoke(app, ["compare", "bad"])
    assert result.exit_code == 0, result.output
    out = " ".join(re.sub("[\u2500-\u257f]", " ", result.stdout).split())  # no box lines
    assert "A (bad)" in out and "B (workspace)" in out
    assert "accuracy 0.6000 0.9200 +0.3200 [+0.2200, +0.4200] p < 0.0001 McNemar" in out
    assert "balanced accuracy 0.5000 0.9167 +0.4167 [+0.3578, +0.4688] p < 0.001 bootstrap" in out
    assert "McNemar exact test: 4 images only A got right, 36 only B; p < 0.0001." in out
    assert out.endswith("B is better (100 images both scored, 95% level).")


def test_an_experiment_with_other_images_is_compared_on_the_common_ones(repo):
    result = run_json("main", "shifted-seed")
    assert result["images"] == 90
    assert (result["a"]["left_out"], result["b"]["left_out"]) == (10, 10)
    table = runner.invoke(app, ["compare", "main", "shifted-seed"]).stdout
    assert "only the 90 images both scored are compared; 10 of A's and 10 of B's were left out" in (
        " ".join(table.split())
    )


def test_markdown_for_a_pull_request_comment(repo):
    result = runner.invoke(app, ["compare", "bad", "HEAD", "--format", "md"])
    lines = result.stdout.splitlines()
    header, rule, accuracy = ([cell.strip() for cell in line.split("|")] for line in lines[:3])
    assert header == ["", "metric", "A (bad)", "B (HEAD)", "B - A", "95% interval", "p", ""]
    assert set("".join(rule)) == {"-"}, "GitHub's header rule"
    assert accuracy[1:5] == ["accuracy", "0.6000", "0.9200", "+0.3200"]
    assert accuracy[5].startswith("[+0.")
    assert lines[-1] == "B is better (100 images both scored, 95% level)."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-branch"], "error: unknown Git revision 'no-such-branch': not a commit, branch"),
        (["old"], "error: metrics/eval/predictions/test.csv: not committed at old;"),
    ],
)
def test_bad_revision_or_missing_file_is_one_error_line(repo, args, message):
    result = runner.invoke(app, ["compare", *args])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(message)


def test_no_predictions_in_the_workspace_or_no_git(repo, tmp_path_factory, monkeypatch):
    (repo / predictions_file("test")).unlink()
    with pytest.raises(GenderfaceError, match=r"not in the workspace; run `dvc repro` first"):
        compare.read_predictions(None)
    monkeypatch.chdir(tmp_path_factory.mktemp("plain"))
    with pytest.raises(GenderfaceError, match="is not a git repository; run compare inside"):
        compare.read_predictions("HEAD")


def test_a_file_without_the_columns_is_refused(repo):
    (repo / predictions_file("test")).write_text("file,label\nfaces/man/a.jpg,man\n")
    with pytest.raises(GenderfaceError, match=r"\(workspace\): no column sha256, probability, pr"):
        compare.read_predictions("workspace")


def test_pairing_by_content_with_copies_and_renames():
    a = frame(["man", "man", "woman"], ["man", "woman", "woman"])
    a.loc[:, "sha256"] = ["same", "same", "w"]  # two byte-identical copies of one man picture
    b = a.iloc[[0, 2]].assign(file=["renamed/x.jpg", "renamed/y.jpg"])  # one copy gone, renamed
    paired = compare.pair(a, b)
    assert (paired.left_out_a, paired.left_out_b) == (1, 0)
    assert sorted(paired.images["sha256"]) == ["same", "w"]
    relabelled = b.assign(label=["woman", "woman"])
    with pytest.raises(GenderfaceError, match="another true label at B than at A"):
        compare.pair(a, relabelled)
    with pytest.raises(GenderfaceError, match="share no test image"):
        compare.pair(a, frame(["man"], ["man"], start=50))


def test_mixed_when_accuracy_and_balanced_accuracy_disagree():
    labels = ["man"] * 900 + ["woman"] * 100
    a = frame(labels, ["woman"] * 180 + ["man"] * 720 + ["woman"] * 100)  # every woman right
    b = frame(labels, ["man"] * 1000)  # more right overall, every woman wrong
    result = compare.compare(a, b, "A", "B", resamples=500, seed=0)
    assert result.verdict == "mixed"
    assert result.sentence == (
        "Mixed: B is better on accuracy, A is better on balanced accuracy "
        "(1000 images both scored, 95% level)."
    )


def test_the_console_script_in_a_fresh_process(repo):
    exe = Path(sys.executable).with_name("genderface")
    run = subprocess.run(
        [str(exe), "compare", "bad", "main", "--format", "json"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["verdict"] == "B is better"
    assert run.stderr == ""


# End to end: the installed console script on real `dvc repro` outputs in a temporary git repo.

GENDERFACE = str(Path(sys.executable).with_name("genderface"))


def compare_json(project: Project, *args: str) -> dict:
    return json.loads(project.run(GENDERFACE, "compare", *args, "--format", "json"))


def _hashes(project: Project, rev: str) -> Counter:
    text = project.run("git", "show", f"{rev}:{predictions_file('test')}")
    return Counter(pd.read_csv(io.StringIO(text), dtype=str)["sha256"])


@pytest.mark.slow
def test_end_to_end_two_split_seeds_compare_their_common_images(reseeded_project, tmp_path):
    """HEAD~1 and HEAD: the tiny project before and after another split seed, in a copy (DVC
    reads the revisions; other tests copy the shared original meanwhile)."""
    project = Project(tmp_path / "project", template=reseeded_project.project)
    before, after = _hashes(project, "HEAD~1"), _hashes(project, "HEAD")
    common = sum((before & after).values())
    assert 0 < common < min(before.total(), after.total())  # the seeds share some test images
    result = compare_json(project, "HEAD~1", "HEAD")
    assert result["images"] == common
    left_out = (before.total() - common, after.total() - common)
    assert (result["a"]["left_out"], result["b"]["left_out"]) == left_out
    table = " ".join(project.run(GENDERFACE, "compare", "HEAD~1", "HEAD").split())
    assert (
        f"only the {common} images both scored are compared; {left_out[0]} of A's and "
        f"{left_out[1]} of B's were left out"
    ) in table


@pytest.mark.slow
def test_end_to_end_a_threshold_forced_to_099_is_worse_on_the_sample(sample_project, tmp_path):
    """The real sample at 32 px, phase 1 only: the default model against a `dvc exp run` of it
    with every image but the surest called "man". Balanced accuracy drops from 0.70 to 0.50
    (bootstrap p < 0.001); accuracy only from 0.71 to the majority's 0.65, which this weak
    model's McNemar test puts at p = 0.05."""
    project = Project(tmp_path / "project", template=sample_project)
    project.run("dvc", "exp", "run", "-n", "threshold-099", "-S", "train.threshold=0.99")
    result = compare_json(project, "HEAD", "threshold-099")  # a `dvc exp` name as B
    assert result["images"] == 589
    balanced = result["metrics"]["balanced_accuracy"]
    assert balanced["b"] == pytest.approx(0.5, abs=0.02)  # (almost) everyone called "man"
    assert balanced["difference"]["high"] < 0 and balanced["difference"]["p"] < 0.01
    assert result["metrics"]["accuracy"]["difference"]["estimate"] < 0
    assert result["verdict"] == "A is better"

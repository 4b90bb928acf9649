"""What `dvc repro` reruns after a change, on the tiny demo project (no download, never skips)."""

import hashlib
from pathlib import Path

import pytest
import yaml

from .conftest import RESEEDED, Project, stages_run
from .imports import PACKAGE, repo_relative

pytestmark = [pytest.mark.slow]


@pytest.fixture
def project(reproduced_project, tmp_path) -> Project:
    return Project(tmp_path / "project", template=reproduced_project)


def test_a_second_repro_is_up_to_date(project):
    out = project.run("dvc", "repro")
    assert "Data and pipelines are up to date." in out
    assert "Running stage" not in out


def test_changing_an_evaluate_param_reruns_only_evaluate(project):
    project.set_params(**{"evaluate.batch_size": 17})
    assert project.changed() == {"evaluate"}
    assert project.repro() == ["evaluate"]


def test_changing_the_split_seed_and_the_margin_reruns_from_split(reseeded_project):
    """split.seed makes split stale and data.face_margin preprocess (dvc status names the stages
    whose own inputs changed); `dvc repro` runs split and everything after it."""
    assert reseeded_project.stale == {"split", "preprocess"}
    assert reseeded_project.ran == ["split", "preprocess", "train", "export", "evaluate"]
    project = reseeded_project.project

    def manifest_md5(rev: str) -> str:
        lock = yaml.safe_load(project.run("git", "show", f"{rev}:dvc.lock"))
        outs = lock["stages"]["split"]["outs"]  # the manifest, metrics/data.json and data.md
        (manifest,) = [out for out in outs if out["path"] == "data/split/manifest.csv"]
        return manifest["md5"]

    assert manifest_md5("HEAD") != manifest_md5("HEAD~1")


def _evaluate_and_predict_files() -> list[str]:
    """Every module of the evaluation and commands sub-packages, and the card's template."""
    files = [*(PACKAGE / "evaluation").rglob("*.py"), *(PACKAGE / "commands").rglob("*.py")]
    files += (PACKAGE / "evaluation" / "templates").glob("*.j2")
    return sorted(repo_relative(set(files)))


def _reworded(project: Project, modules: list[str]) -> set[str]:
    """What `dvc status` names while each of the modules carries one more comment line."""
    originals = {module: (project.root / module).read_text() for module in modules}
    for module, original in originals.items():
        comment = "{# reworded #}" if module.endswith(".j2") else "# reworded"
        (project.root / module).write_text(f"{original}\n{comment}\n")
    try:
        return project.changed()
    finally:
        for module, original in originals.items():
            (project.root / module).write_text(original)


def test_editing_evaluation_reporting_card_or_predict_code_never_retrains(project):
    """Rewording a plot title, the card, a score or predict must not retrain the model: with every
    such file edited, `dvc status` shows evaluate stale, nothing else (export shares only the
    statistics below both, genderface/stats.py). A stage is stale when one of its own
    dependencies changed, so what all the edits make stale is what the edits make stale one by
    one, put together: no single one reaches train. Then one of each kind alone."""
    files = _evaluate_and_predict_files()
    assert {"src/genderface/commands/predict.py", "src/genderface/evaluation/model_card.py"} <= set(
        files
    )
    assert _reworded(project, files) == {"evaluate"}
    # a pandas-only group score is evaluate's alone, the shared statistics export's too
    assert _reworded(project, ["src/genderface/evaluation/groups.py"]) == {"evaluate"}
    assert _reworded(project, ["src/genderface/stats.py"]) == {"export", "evaluate"}
    assert _reworded(project, ["src/genderface/commands/predict.py"]) == set()
    assert project.run("git", "status", "--porcelain") == ""


def test_editing_export_code_reruns_export_alone(project):
    """Export checks the model it converts; evaluate follows only if what export writes changes,
    and the same model converts to the same bytes. DVC warns of nothing: with export.quantize
    none, models/quantized holds its README (DVC warns of an empty output folder)."""
    exported = project.root / "models/model.tflite"
    before = hashlib.sha256(exported.read_bytes()).hexdigest()
    path = project.root / "src/genderface/modeling/litert_model.py"
    path.write_text(path.read_text() + "\n# reworded\n")
    assert project.changed() == {"export"}
    log = project.run("dvc", "repro")
    assert stages_run(log) == ["export"]
    assert "WARNING" not in log
    assert (project.root / "models/quantized/README.md").read_text().startswith("No quantized")
    assert hashlib.sha256(exported.read_bytes()).hexdigest() == before


def test_editing_training_code_reruns_train_alone(project):
    """evaluate depends on the model, not on training.py: it follows only if the model changes,
    and retraining in a new process (phase 1 on cached VGG16 features) writes the same bytes."""
    model = project.root / "models/model.keras"
    before = hashlib.sha256(model.read_bytes()).hexdigest()
    path = project.root / "src/genderface/modeling/training.py"
    path.write_text(path.read_text() + "\n# reworded\n")
    assert project.changed() == {"train"}
    assert project.repro() == ["train"]
    assert hashlib.sha256(model.read_bytes()).hexdigest() == before


def test_the_face_margin_reaches_preprocess_train_evaluate_and_predict(
    reseeded_project, fairface, tmp_path
):
    """data.face_margin, the one margin key: changing it reframed the shards and retrained
    (reseeded_project), and the new margin is the model's, so evaluate's external folder and
    predict's default use it."""
    project = Project(tmp_path / "project", template=reseeded_project.project)
    margin = RESEEDED["data.face_margin"]
    external = tmp_path / "external"
    for label in ("man", "woman"):
        (external / label).mkdir(parents=True)
        for source in sorted((fairface / label).glob("*.jpg"))[:2]:
            (external / label / source.name).write_bytes(source.read_bytes())
    project.set_params(**RESEEDED, **{"evaluate.external": str(external)})
    assert project.repro() == ["evaluate"]
    framing = {"kind": "face", "margin": margin}
    assert project.json("data/shards/meta.json")["framing"] == framing
    assert project.json("models/model.json")["framing"] == framing
    assert project.json("metrics/framing.json")["framing"] == framing
    evaluated = {
        line.split(",")[1]: float(line.split(",")[3])
        for line in (project.root / "metrics/eval/predictions/external.csv").read_text().split()[1:]
    }

    def predict(*args: str) -> dict[str, float]:
        out = project.run("genderface", "predict", "--format", "csv", *args, str(external))
        rows = [row.split(",") for row in out.splitlines() if row.startswith(str(external))]
        return {Path(row[0]).relative_to(external).as_posix(): float(row[2]) for row in rows}

    default = predict()
    assert default == pytest.approx(evaluated, abs=1e-6)
    assert default != predict("--margin", "0.2")

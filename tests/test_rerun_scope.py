"""What `dvc repro` reruns after a change, on the tiny demo project (no download, never skips)."""

import hashlib

import pytest

from .conftest import Project
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


def test_changing_the_split_seed_reruns_split_and_everything_after(project):
    before = (project.root / "data/split/manifest.csv").read_bytes()
    project.set_params(**{"split.seed": 7})
    assert project.repro() == ["split", "preprocess", "train", "export", "evaluate"]
    assert (project.root / "data/split/manifest.csv").read_bytes() != before


def _evaluate_and_predict_files() -> list[str]:
    """Every module of the evaluation and commands sub-packages, and the card's template."""
    files = [*(PACKAGE / "evaluation").rglob("*.py"), *(PACKAGE / "commands").rglob("*.py")]
    files += (PACKAGE / "evaluation" / "templates").glob("*.j2")
    return sorted(repo_relative(set(files)))


def test_editing_evaluation_reporting_card_or_predict_code_never_retrains(project):
    """Rewording a plot title, the card, a score or predict must not retrain the model: after
    each edit, `dvc status` shows evaluate stale (and export, for the bootstrap it shares), or
    nothing (code no stage runs)."""
    files = _evaluate_and_predict_files()
    assert {"src/genderface/commands/predict.py", "src/genderface/evaluation/model_card.py"} <= set(
        files
    )
    stale = {}
    for module in files:
        path = project.root / module
        original = path.read_text()
        comment = "{# reworded #}" if module.endswith(".j2") else "# reworded"
        path.write_text(f"{original}\n{comment}\n")
        stale[module] = project.changed()
        path.write_text(original)
    assert all(changed <= {"export", "evaluate"} for changed in stale.values()), stale
    assert stale["src/genderface/evaluation/reporting.py"] == {"evaluate"}
    assert stale["src/genderface/evaluation/stats.py"] == {"export", "evaluate"}
    assert stale["src/genderface/commands/predict.py"] == set()


def test_editing_export_code_reruns_export_alone(project):
    """Export checks the model it converts; evaluate follows only if what export writes changes,
    and the same model converts to the same bytes."""
    exported = project.root / "models/model.tflite"
    before = hashlib.sha256(exported.read_bytes()).hexdigest()
    path = project.root / "src/genderface/modeling/litert_model.py"
    path.write_text(path.read_text() + "\n# reworded\n")
    assert project.changed() == {"export"}
    assert project.repro() == ["export"]
    assert hashlib.sha256(exported.read_bytes()).hexdigest() == before


def test_editing_training_code_changes_train_alone(project):
    """evaluate depends on the model, not on training.py: it follows only if the model changes."""
    path = project.root / "src/genderface/modeling/training.py"
    path.write_text(path.read_text() + "\n# reworded\n")
    assert project.changed() == {"train"}

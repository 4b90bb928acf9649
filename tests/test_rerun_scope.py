"""What `dvc repro` reruns after a change, on the tiny demo project (no download, never skips)."""

import pytest

from .conftest import Project

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
    assert project.repro() == ["split", "preprocess", "train", "evaluate"]
    assert (project.root / "data/split/manifest.csv").read_bytes() != before


@pytest.mark.parametrize(
    "module",
    [
        "src/genderface/reporting.py",
        "src/genderface/model_card.py",
        "src/genderface/templates/model_card.md.j2",
        "src/genderface/metrics.py",
        "src/genderface/evaluation.py",
    ],
)
def test_editing_evaluate_only_code_reruns_evaluate_alone(project, module):
    """Rewording a plot title, the card or an error message must not retrain the model."""
    path = project.root / module
    comment = "{# reworded #}" if module.endswith(".j2") else "# reworded"
    path.write_text(path.read_text() + f"\n{comment}\n")
    assert project.changed() == {"evaluate"}


def test_editing_training_code_changes_train_alone(project):
    """evaluate depends on the model, not on training.py: it follows only if the model changes."""
    path = project.root / "src/genderface/training.py"
    path.write_text(path.read_text() + "\n# reworded\n")
    assert project.changed() == {"train"}

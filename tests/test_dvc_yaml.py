"""dvc.yaml must name, for every stage, its script and every package module the script runs."""

import re

import pytest
import yaml

from genderface.params import NO_INPUT

from .conftest import REPO
from .imports import PACKAGE, modules_used, repo_relative

DVC_YAML = yaml.safe_load((REPO / "dvc.yaml").read_text())


@pytest.mark.parametrize("stage", list(DVC_YAML["stages"]))
def test_stage_deps_list_script_and_package_modules(stage):
    spec = DVC_YAML["stages"][stage]
    script = f"stages/{stage}.py"
    assert spec["cmd"] == f"python {script}"
    code_deps = {d for d in spec["deps"] if d.endswith(".py")}
    assert code_deps == {script} | repo_relative(modules_used(REPO / script))


def test_metrics_and_plots_files_are_stage_outputs_kept_in_git():
    git_outs = set()
    for spec in DVC_YAML["stages"].values():
        for out in spec["outs"]:
            if isinstance(out, dict):
                ((path, options),) = out.items()
                if options.get("cache") is False:
                    git_outs.add(path)
    declared = list(DVC_YAML["metrics"])
    for plot in DVC_YAML["plots"]:
        ((name, spec),) = plot.items()
        declared += list(spec["y"]) if isinstance(spec.get("y"), dict) else [name]
    for path in declared:
        assert any(path == out or path.startswith(out + "/") for out in git_outs), path


def _leaves(node: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        keys |= _leaves(value, f"{dotted}.") if isinstance(value, dict) else {dotted}
    return keys


def _templated_deps(stage: str) -> set[str]:
    """Parameters a stage names as dependencies (`- ${data.path}`): paths tracked by content."""
    deps = DVC_YAML["stages"][stage]["deps"]
    return {m[1] for d in deps if (m := re.fullmatch(r"\$\{([\w.]+)\}", d))}


def test_every_parameter_is_listed_by_a_stage():
    """No orphan keys in params.yaml: editing a value no stage lists would rerun nothing."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    listed = {key for spec in DVC_YAML["stages"].values() for key in spec.get("params", [])}
    templated = set().union(*map(_templated_deps, DVC_YAML["stages"]))
    assert not listed & templated
    assert listed | templated == _leaves(params)


def test_path_parameters_are_dependencies_of_the_stages_that_read_them():
    """A file behind a path parameter is tracked by content, and only by its reader."""
    assert {stage: _templated_deps(stage) for stage in DVC_YAML["stages"]} == {
        "download": {"data.path"},
        "validate": set(),
        "split": set(),
        "preprocess": set(),
        "train": {"model.weights_file"},
        "export": set(),
        "evaluate": {"evaluate.external"},
    }
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    defaults = (
        params["data"]["path"],
        params["model"]["weights_file"],
        params["evaluate"]["external"],
    )
    assert defaults == (NO_INPUT,) * 3  # the demo reads no path: all three name the placeholder
    assert (REPO / NO_INPUT).is_file()


EVALUATE_ONLY = {"evaluation", "commands"}  # sub-packages: scoring, reporting, the card, predict


def test_train_depends_on_no_evaluation_or_predict_code():
    """Editing how results are scored, shown or predicted must not retrain the model."""
    deps = set(DVC_YAML["stages"]["train"]["deps"])
    for folder in EVALUATE_ONLY:
        modules = repo_relative(set((PACKAGE / folder).rglob("*.py")))
        assert len(modules) > 3, folder
        assert not modules & deps, folder
    evaluate = set(DVC_YAML["stages"]["evaluate"]["deps"])
    assert "src/genderface/evaluation/templates/model_card.md.j2" in evaluate
    faces = "src/genderface/data/faces.py"
    assert faces in evaluate and faces not in deps, "the face finder is evaluate's alone"

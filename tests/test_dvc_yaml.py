"""dvc.yaml must name, for every stage, its script and every package module the script runs.

A `foreach: ${data.sources}` stage (download, validate) is one stage per source, DVC's
<stage>@<name>: its `do:` body is checked as written (`${key}` the source's name) and, where the
parameters it lists matter, as DVC expands it for each source of params.yaml."""

import re

import pytest
import yaml

from genderface.params import NO_INPUT

from .conftest import ARCHIVE, FIRST_SOURCE, REPO, STAGES
from .imports import PACKAGE, modules_used, repo_relative

DVC_YAML = yaml.safe_load((REPO / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
PER_SOURCE = "${data.sources}"  # what a per-source stage's foreach names


def _body(stage: str) -> dict:
    """A stage as written: its own spec, or a foreach stage's `do:` body (templates kept)."""
    spec = DVC_YAML["stages"][stage]
    return spec["do"] if "foreach" in spec else spec


def _template(node: object, name: str) -> object:
    """A foreach body for source `name`, as DVC expands it: ${key} the name, ${item.<field>}
    that source's field in params.yaml."""
    if isinstance(node, dict):
        return {_template(k, name): _template(v, name) for k, v in node.items()}
    if isinstance(node, list):
        return [_template(v, name) for v in node]
    if isinstance(node, str):
        source = PARAMS["data"]["sources"][name]
        node = re.sub(r"\$\{item\.(\w+)\}", lambda m: str(source[m[1]]), node)
        return node.replace("${key}", name)
    return node


def _expanded() -> dict[str, dict]:
    """dvc.yaml's stages as `dvc repro` runs them: download@archive, ..., split, ..."""
    stages = {}
    for stage, spec in DVC_YAML["stages"].items():
        if "foreach" in spec:
            assert spec["foreach"] == PER_SOURCE, stage  # one per source, nothing else
            for name in PARAMS["data"]["sources"]:
                stages[f"{stage}@{name}"] = _template(spec["do"], name)
        else:
            stages[stage] = spec
    return stages


EXPANDED = _expanded()


def test_the_expanded_stages_are_the_pipeline_the_tests_run():
    assert list(EXPANDED) == STAGES


@pytest.mark.parametrize("stage", list(DVC_YAML["stages"]))
def test_stage_deps_list_script_and_package_modules(stage):
    spec = _body(stage)
    script = f"stages/{stage}.py"
    per_source = "foreach" in DVC_YAML["stages"][stage]
    assert spec["cmd"] == f"python {script}" + (" ${key}" if per_source else "")
    code_deps = {d for d in spec["deps"] if d.endswith(".py")}
    assert code_deps == {script} | repo_relative(modules_used(REPO / script))


@pytest.mark.parametrize(
    "stage", [s for s, spec in DVC_YAML["stages"].items() if "foreach" in spec]
)
def test_a_per_source_stage_keeps_each_source_to_itself(stage):
    """Every output and every parameter of a per-source stage is its own source's (${key}), so
    two sources never share an output and editing one source reruns only its stages."""
    spec = _body(stage)
    outs = [next(iter(o)) if isinstance(o, dict) else o for o in spec["outs"]]
    assert outs and all("${key}" in out for out in outs), outs
    assert spec["params"]
    for key in spec["params"]:
        assert key.startswith("data.sources.${key}") or key.startswith("data.demo."), key


def test_metrics_and_plots_files_are_stage_outputs_kept_in_git():
    """Each declared file is (inside) an output kept in git; a declared folder of per-source
    outputs (metrics/sources) holds at least one, and only such outputs."""
    git_outs, all_outs = set(), set()
    for spec in EXPANDED.values():
        for out in spec["outs"]:
            if isinstance(out, dict):
                ((path, options),) = out.items()
                if options.get("cache") is False:
                    git_outs.add(path)
            else:
                path = out
            all_outs.add(path)
    declared = list(DVC_YAML["metrics"])
    for plot in DVC_YAML["plots"]:
        ((name, spec),) = plot.items()
        declared += list(spec["y"]) if isinstance(spec.get("y"), dict) else [name]
    for path in declared:
        if any(path == out or path.startswith(out + "/") for out in git_outs):
            continue
        inside = {out for out in all_outs if out.startswith(path + "/")}
        assert inside and inside <= git_outs, path


def _leaves(node: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        keys |= _leaves(value, f"{dotted}.") if isinstance(value, dict) else {dotted}
    return keys


def _templated_deps(stage: str) -> set[str]:
    """Parameters a stage names as dependencies (`- ${model.weights_file}`, a per-source stage's
    `- ${item.path}`: that source's data.sources.<name>.path): paths tracked by content."""
    base, _, name = stage.partition("@")
    deps = _body(base)["deps"]
    found = {m[1] for d in deps if (m := re.fullmatch(r"\$\{([\w.]+)\}", d))}
    return {re.sub(r"^item\.", f"data.sources.{name}.", key) for key in found}


def _covered(key: str, leaves: set[str]) -> set[str]:
    """The params.yaml leaves a listed key stands for: itself, or all of a section's."""
    return {leaf for leaf in leaves if leaf == key or leaf.startswith(f"{key}.")}


def test_every_parameter_is_listed_by_a_stage():
    """No orphan keys in params.yaml: editing a value no stage lists would rerun nothing. A
    listed key names one value or a whole section (a source: download@<name> reads all of it,
    and split which sources there are, in order)."""
    leaves = _leaves(PARAMS)
    listed = {key for spec in EXPANDED.values() for key in spec.get("params", [])}
    assert all(_covered(key, leaves) for key in listed), listed  # no key params.yaml lacks
    templated = set().union(*map(_templated_deps, EXPANDED))
    assert not (listed & leaves) & templated  # a path value is a dependency, not a parameter
    assert set().union(*(_covered(key, leaves) for key in listed)) | templated == leaves


def test_path_parameters_are_dependencies_of_the_stages_that_read_them():
    """A file behind a path parameter is tracked by content, and only by its reader."""
    assert {stage: _templated_deps(stage) for stage in EXPANDED} == {
        f"download@{FIRST_SOURCE}": {f"{ARCHIVE}.path"},
        f"validate@{FIRST_SOURCE}": set(),
        "split": set(),
        "preprocess": set(),
        "train": {"model.weights_file"},
        "export": set(),
        "evaluate": {"evaluate.external"},
    }
    defaults = (
        PARAMS["data"]["sources"][FIRST_SOURCE]["path"],
        PARAMS["model"]["weights_file"],
        PARAMS["evaluate"]["external"],
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

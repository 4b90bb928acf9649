"""The experiment sweep of docs/experiments.md, run literally on the tiny project: queue,
compare, promote."""

import json
import time

import pytest
import yaml

from .conftest import Project, doc_blocks

pytestmark = [pytest.mark.slow]

DOC = "docs/experiments.md"
SECTION = "Experiments"
EVAL = "metrics/eval/metrics.json"


def _wait_for_queue(project: Project, status_command: str) -> str:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = project.shell(status_command)
        if "Queued" not in status and "Running" not in status:
            return status
        time.sleep(10)  # each `dvc queue status` costs the running experiment a core-second
    raise AssertionError(f"queue still busy after 10 min:\n{status}")


def _experiments(project: Project) -> dict[str, dict]:
    """`dvc exp show --json`: experiment name -> {learning_rate, balanced_accuracy, state}."""
    shown = json.loads(project.run("dvc", "exp", "show", "--json"))
    baseline = next(row for row in shown if row["rev"] != "workspace")
    found = {}
    for experiment in baseline["experiments"] or []:
        rev = experiment["revs"][0]
        params = rev["data"]["params"]["params.yaml"]["data"]
        test = rev["data"]["metrics"].get(EVAL, {}).get("data", {}).get("test", {})
        found[rev["name"]] = {
            "learning_rate": params["train"]["learning_rate"],
            "balanced_accuracy": test.get("balanced_accuracy"),
            "images": test.get("images"),
            "state": experiment["executor"]["state"],
        }
    return found


def test_queued_sweep_runs_both_and_the_best_becomes_a_branch(reproduced_project, tmp_path):
    project = Project(tmp_path / "project", template=reproduced_project)
    (sweep_queue, queue_start, queue_status, show), promote = doc_blocks(DOC, SECTION)

    out = project.shell(sweep_queue)
    assert out.count("Queued experiment") == 2
    queued = project.shell(queue_status)
    assert queued.count("Queued") == 2
    pending = _experiments(project)
    assert [(e["state"], e["images"]) for e in pending.values()] == [("queued", None)] * 2

    project.shell(queue_start)
    finished = _wait_for_queue(project, queue_status)
    assert finished.count("Success") == 2, finished

    experiments = _experiments(project)
    assert sorted(e["learning_rate"] for e in experiments.values()) == [0.0001, 0.01]
    assert all(e["state"] == "success" and e["images"] == 8 for e in experiments.values())
    best, other = sorted(experiments, key=lambda name: -experiments[name]["balanced_accuracy"])
    # a tie would leave the sort, and so which row the docs call best, undecided
    assert experiments[best]["balanced_accuracy"] > experiments[other]["balanced_accuracy"]
    table = project.shell(show)
    assert all(name in table for name in experiments)
    assert table.index(best) < table.index(other)  # the docs sort best-first

    for command in promote:
        project.shell(command.replace("<experiment>", best))
    assert project.run("git", "branch", "--show-current").strip() == "best-lr"
    params = yaml.safe_load((project.root / "params.yaml").read_text())
    assert params["train"]["learning_rate"] == experiments[best]["learning_rate"]
    test = project.json(EVAL)["test"]
    assert test["balanced_accuracy"] == experiments[best]["balanced_accuracy"]
    assert "Data and pipelines are up to date." in project.run("dvc", "status")
    assert project.run("git", "status", "--porcelain") == ""

    # the documented alternative: the best experiment's results into the base branch's workspace
    project.run("git", "checkout", "-q", "-")
    assert yaml.safe_load((project.root / "params.yaml").read_text()) != params
    project.run("dvc", "exp", "apply", best)
    assert yaml.safe_load((project.root / "params.yaml").read_text()) == params
    assert project.json(EVAL)["test"] == test

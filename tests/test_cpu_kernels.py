"""train.deterministic: the committed lock is reproduced byte for byte on another CPU.

Another CPU is played here by what oneDNN reads of one: the cores the process may use (taskset)
and the highest instruction set it may pick (ONEDNN_MAX_CPU_ISA, as a CPU without bfloat16 or
AMX has). Forcing train, export and evaluate to rerun under them must rewrite nothing that git
or DVC tracks; the same rerun with train.deterministic false in float32 must change the model, so
the pin, not luck, is what holds the bytes.
"""

import subprocess
import sys

import pytest

from genderface.machine import this_machine
from genderface.modeling.devices import ISA_ENV

from .conftest import REPO, Project, write_params

pytestmark = pytest.mark.slow

OTHER_CPU = f"taskset -c 0 env {ISA_ENV}={{isa}} dvc repro --force --downstream train"
"""One core, and an instruction set oneDNN may use: a CPU of another kind than the lock's."""


def _model_md5(project: Project) -> str:
    lock = project.root / "dvc.lock"
    text = lock.read_text()
    start = text.index("path: models/model.keras")
    return text[start : text.index("\n", text.index("md5:", start))].split()[-1]


def test_a_deterministic_run_repeats_its_bytes_on_another_cpu(reproduced_project, tmp_path):
    project = Project(tmp_path / "p", template=reproduced_project)
    committed = _model_md5(project)
    log = project.shell(OTHER_CPU.format(isa="AVX512_CORE"))  # AVX-512 without bfloat16
    assert "CPU kernels: AVX2, 2 threads (train.deterministic)" in log
    assert project.run("git", "status", "--porcelain") == "", "every tracked byte repeats"

    if "avx512f" not in this_machine().flags:
        pytest.skip("the bytes repeated; showing that unpinned they would not needs AVX-512")
    # float32 as the lock, AVX-512 kernels on one core (at this size the thread count alone
    # changes nothing: the instruction set does)
    write_params(project.root, **{"train.deterministic": False, "train.mixed_precision": "float32"})
    log = project.shell(OTHER_CPU.format(isa="AVX512_CORE"))
    assert "another CPU gives other bytes" in log
    assert _model_md5(project) != committed, "unpinned, the other CPU trains another model"


def test_the_cost_benchmark_runs_each_case_as_it_says():
    """benchmarks/cpu_kernels.py's smoke: the pinned case trains in float32 on AVX2, the others
    unpinned in float32 and in what auto gives this CPU (bfloat16 where it has it); the ratios
    are theirs."""
    smoke = ["--sizes", "32", "--seconds", "0.5", "--set=train.batch_size=4"]
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "cpu_kernels.py"),
            *smoke,
            "--set=model.head_units=8",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    best = "mixed_bfloat16" if this_machine().bfloat16 else "float32"
    assert out.startswith(this_machine().line()), "the machine line comes first"
    assert "batch 4" in out and "head units 8" in out, "--set reached the run"
    assert (
        "pinned: float32, ISA AVX2, threads 2; float32: float32, ISA all, threads all; "
        f"best: {best}, ISA all, threads all"
    ) in out, "each child process reports the kernels it ran with"
    pinned, f32, rate, to_f32, to_best = map(
        float, out.splitlines()[-1].replace("x", "").split()[1:]
    )
    for ratio, other, shown in ((pinned / f32, f32, to_f32), (pinned / rate, rate, to_best)):
        # rates are printed to 0.05, ratios to 0.005: what the rounding allows, not more
        slack = ratio * (0.05 / pinned + 0.05 / other) + 0.005
        assert abs(shown - ratio) <= slack, (shown, ratio)

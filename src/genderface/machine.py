"""The machine a run happens on: CPU model, cores, feature flags, bfloat16 (no TensorFlow import).

Read from /proc/cpuinfo (Linux); elsewhere the fields are "unknown" and no flags, so nothing that
depends on a flag (bfloat16 under `auto`) switches on by guess. Benchmarks print `Machine.line`
first, and an unpinned run's provenance names the CPU (devices.cpu_kernels), because the same run
differs in speed, and without `train.deterministic` in bytes, from one CPU to another.
"""

import os
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")

# /proc/cpuinfo flags of x86 CPUs that compute bfloat16 natively (oneDNN uses them).
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    cores: int
    flags: frozenset[str]

    @property
    def bfloat16(self) -> bool:
        """Native bfloat16 arithmetic: what `train.mixed_precision: auto` turns into bf16."""
        return bool(BF16_CPU_FLAGS & self.flags)

    def line(self) -> str:
        """One line naming the machine, printed before any benchmark figure."""
        return (
            f"machine: {self.cpu_model}, {self.cores} cores, "
            f"bfloat16 {'yes' if self.bfloat16 else 'no'}, "
            f"TensorFlow {_version('tensorflow')}, Keras {_version('keras')}"
        )


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def this_machine(cpuinfo: Path = CPUINFO) -> Machine:
    """The CPU model (first `model name`), usable cores and flags of this machine."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        text = ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return Machine(
        cpu_model=fields.get("model name", "unknown CPU"),
        cores=len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")  # Linux: the cores this process may use
        else os.cpu_count() or 1,
        flags=frozenset(fields.get("flags", "").split()),
    )

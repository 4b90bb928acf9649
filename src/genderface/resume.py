"""The resume state of a training run: a killed `dvc repro` continues where it stopped.

Keras' BackupAndRestore keeps each phase's last completed epoch (weights, optimizer, epoch);
a finished phase leaves its weights and a marker. Everything is tied to a fingerprint of the
params and data, so a changed pipeline never resumes from a stale run.
"""

import hashlib
import json
import shutil
from pathlib import Path

import keras

from genderface.fsutil import atomic_path, write_json
from genderface.params import Params

PHASES = ("head", "fine_tune")
_STATE = "state.json"


class Backup:
    """The resume state in `root`: BackupAndRestore per phase, plus a marker per phase done."""

    def __init__(self, root: Path, fingerprint: str) -> None:
        self.root = root
        state = self._state()
        if state.get("fingerprint") != fingerprint:
            shutil.rmtree(root, ignore_errors=True)
            state = {"fingerprint": fingerprint}
            write_json(root / _STATE, state)  # before any epoch, so phase 1 can resume
        self.state = state

    @property
    def resuming(self) -> bool:
        """Whether an earlier run of the same params and data left progress to resume from."""
        return len(self.state) > 1 or any((self.root / phase).exists() for phase in PHASES)

    def discard(self) -> None:
        """Called once the model is saved: the next run starts afresh."""
        shutil.rmtree(self.root, ignore_errors=True)

    def _state(self) -> dict:
        try:
            return json.loads((self.root / _STATE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def callback(self, phase: str) -> keras.callbacks.BackupAndRestore:
        return keras.callbacks.BackupAndRestore(str(self.root / phase), double_checkpoint=True)

    def done(self, phase: str) -> int | None:
        """Epochs the phase ran, if it completed in an earlier run."""
        return self.state.get(phase)

    def finish(self, phase: str, model: keras.Model, epochs: int) -> None:
        with atomic_path(self.root / f"{phase}.weights.h5", suffix=".weights.h5") as tmp:
            model.save_weights(tmp)
        self.state = {**self.state, phase: epochs}
        write_json(self.root / _STATE, self.state)

    def restore(self, phase: str, model: keras.Model) -> None:
        model.load_weights(self.root / f"{phase}.weights.h5")


def fingerprint(params: Params, shards_dir: Path) -> str:
    """What a resumable run depends on: the model and training params and the shards' bytes."""
    digest = hashlib.sha256()
    relevant = {"model": params.model.model_dump(), "train": params.train.model_dump()}
    digest.update(json.dumps(relevant, sort_keys=True).encode())
    for shard in sorted(shards_dir.iterdir()):
        digest.update(shard.name.encode())
        with shard.open("rb") as stream:
            digest.update(hashlib.file_digest(stream, "sha256").digest())
    return digest.hexdigest()

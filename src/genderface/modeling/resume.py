"""The resume state of a training run: a killed `dvc repro` continues where it stopped and ends on
the same model bytes and curves as a run that was never killed.

After every epoch `EpochBackup` saves one consistent snapshot of the phase: the weights with the
optimizer's state (and so the step count the learning-rate schedule reads), the layers' random
seed states (dropout, augmentation: Keras' weights files leave them out), and early stopping's
patience, best loss, best epoch and best weights (Keras' BackupAndRestore keeps none of these).
The snapshot's state.json is written last and names its files, so a kill at any instant leaves
the previous complete snapshot. A finished phase leaves its weights, seeds and a marker.
`EpochCurves` logs each epoch's DVCLive row at the epoch's own step and drops rows a killed run
logged past its snapshot. Everything is tied to a fingerprint of the params and data (with
train.balance, the records' groups too), so a changed pipeline never resumes from a stale run.
"""

import hashlib
import json
import logging
import shutil
from pathlib import Path

import keras
import numpy as np
from dvclive.keras import DVCLiveCallback

from genderface.data.sampling import Groups
from genderface.fsutil import atomic_path, write_json, write_text
from genderface.params import Params

log = logging.getLogger("train")

PHASES = ("head", "fine_tune", "scratch")
"""Every phase a recipe can run: transfer runs head then fine_tune, scratch runs scratch."""
_STATE = "state.json"


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _seed_states(model: keras.Model) -> list[keras.Variable]:
    """The random-seed states of the model's layers: every variable that is not a weight."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def _seed_values(model: keras.Model) -> list[list[int]]:
    return [np.asarray(v).tolist() for v in _seed_states(model)]


def _assign_seeds(model: keras.Model, values: list[list[int]]) -> None:
    for variable, value in zip(_seed_states(model), values, strict=True):
        variable.assign(value)


def _save_weights(model: keras.Model, path: Path) -> None:
    with atomic_path(path, suffix=".weights.h5") as tmp:
        model.save_weights(tmp)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' EarlyStopping whose progress can be saved after an epoch and restored."""

    def progress(self) -> dict:
        """Patience used, best value and epoch, and the epoch it stopped at (0: not stopped)."""
        return {
            "wait": self.wait,
            "best": None if self.best is None else float(self.best),
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
        }

    def resume(self, progress: dict, best_weights: list[np.ndarray] | None) -> None:
        self.wait = progress["wait"]
        self.best = progress["best"]
        self.best_epoch = progress["best_epoch"]
        self.stopped_epoch = progress["stopped_epoch"]
        self.best_weights = best_weights


class EpochBackup(keras.callbacks.Callback):
    """Saves the phase's snapshot after every epoch; restores it when the fit begins.

    Goes after `stopping` in the callback list: it restores after early stopping resets, and
    saves after early stopping has judged the epoch.
    """

    def __init__(self, folder: Path, stopping: ResumableEarlyStopping) -> None:
        super().__init__()
        self.folder = folder
        self.stopping = stopping

    def on_train_begin(self, logs: dict | None = None) -> None:
        state = _read_json(self.folder / _STATE)
        if not state:
            return
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)  # its variables must exist to load
        self.model.load_weights(self.folder / state["weights"])
        _assign_seeds(self.model, state["seeds"])
        progress = state["early_stopping"]
        best = progress["best_weights"]
        if best is not None:
            with np.load(self.folder / best) as arrays:
                best = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
        self.stopping.resume(progress, best)
        log.info("resuming after epoch %d from %s", state["epoch"], self.folder)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        weights = f"epoch-{epoch + 1}.weights.h5"
        _save_weights(self.model, self.folder / weights)
        progress = self.stopping.progress()
        best = None
        if self.stopping.best_weights is not None:
            best = f"best-{progress['best_epoch']}.npz"
            if not (self.folder / best).exists():
                with atomic_path(self.folder / best, suffix=".npz") as tmp:
                    np.savez(tmp, *self.stopping.best_weights)
        state = {
            "epoch": epoch + 1,
            "weights": weights,
            "seeds": _seed_values(self.model),
            "early_stopping": {**progress, "best_weights": best},
        }
        write_json(self.folder / _STATE, state)
        for stale in self.folder.iterdir():
            if stale.name not in {_STATE, weights, best}:
                stale.unlink()


class EpochCurves(DVCLiveCallback):
    """DVCLive's Keras callback, each epoch logged at its own number as the step.

    A killed run may have logged an epoch its snapshot does not hold: the first epoch of a fit
    drops every row from its own step on before logging, so each epoch appears once.
    """

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._trimmed = False

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if not self._trimmed:
            for curve in sorted(Path(self.live.plots_dir).rglob("*.tsv")):
                header, *rows = curve.read_text().splitlines(keepends=True)
                kept = [row for row in rows if int(row.split("\t", 1)[0]) < epoch]
                if len(kept) < len(rows):
                    write_text(curve, "".join([header, *kept]))
            self._trimmed = True
        self.live.step = epoch


class Backup:
    """The resume state in `root`: an EpochBackup folder per phase, plus a marker per phase done."""

    def __init__(self, root: Path, fingerprint: str) -> None:
        self.root = root
        state = _read_json(root / _STATE)
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

    def callback(self, phase: str, stopping: ResumableEarlyStopping) -> EpochBackup:
        return EpochBackup(self.root / phase, stopping)

    def resume_epoch(self, phase: str, end: int) -> int | None:
        """The epoch a phase's snapshot continues from (`end` if early stopping had ended the
        phase), or None without one."""
        state = _read_json(self.root / phase / _STATE)
        if not state:
            return None
        return end if state["early_stopping"]["stopped_epoch"] else state["epoch"]

    def done(self, phase: str) -> int | None:
        """Epochs the phase ran, if it completed in an earlier run."""
        return self.state.get(phase, {}).get("epochs")

    def finish(self, phase: str, model: keras.Model, epochs: int) -> None:
        _save_weights(model, self.root / f"{phase}.weights.h5")
        self.state = {**self.state, phase: {"epochs": epochs, "seeds": _seed_values(model)}}
        write_json(self.root / _STATE, self.state)
        shutil.rmtree(self.root / phase, ignore_errors=True)

    def restore(self, phase: str, model: keras.Model) -> None:
        model.load_weights(self.root / f"{phase}.weights.h5")
        _assign_seeds(model, self.state[phase]["seeds"])


def fingerprint(params: Params, shards_dir: Path, groups: Groups | None = None) -> str:
    """What a resumable run depends on: the model and training params, the shards' bytes and
    the train records' groups (the manifest can regroup them and leave the shards as they are)."""
    digest = hashlib.sha256()
    relevant = {"model": params.model.model_dump(), "train": params.train.model_dump()}
    digest.update(json.dumps(relevant, sort_keys=True).encode())
    if groups is not None:
        digest.update(json.dumps(groups.values).encode())
        digest.update(groups.of_record.tobytes())
    for shard in sorted(shards_dir.iterdir()):
        digest.update(shard.name.encode())
        with shard.open("rb") as stream:
            digest.update(hashlib.file_digest(stream, "sha256").digest())
    return digest.hexdigest()

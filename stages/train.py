"""DVC stage `train`: data/shards (+ data/split/manifest.csv's groups with train.balance) ->
models/model.keras (+ model.json), curves in metrics/train.

A killed run resumes from its last completed epoch (data/train-backup) and ends on the same
model and curves; under MultiWorkerMirroredStrategy only the chief writes the model and the
curves.
"""

import tempfile
from pathlib import Path

from dvclive import Live

from genderface import entry_point, layout  # noqa: F401 (entry_point first: quiets TensorFlow)
from genderface.data.input_pipeline import TrainingData
from genderface.data.sampling import read_groups
from genderface.errors import run_main
from genderface.modeling.devices import pin_cpu_kernels, resolve_devices
from genderface.modeling.model_file import save_classifier
from genderface.modeling.resume import Backup, EpochCurves, fingerprint
from genderface.modeling.training import train
from genderface.params import load_params


def main() -> None:
    params = load_params()
    pin_cpu_kernels(params.train.deterministic)  # first: before any TF op, as the next line
    devices = resolve_devices(params.train)  # a cluster must be joined before any TF op
    data = TrainingData.from_shards(layout.SHARDS_DIR)
    groups = read_groups(params.train.balance, layout.MANIFEST, layout.SHARDS_DIR, data.info)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path() if devices.is_chief else Path(scratch)
        backup = Backup(root / layout.TRAIN_BACKUP, fingerprint(params, layout.SHARDS_DIR, groups))
        live = Live(
            str(root / layout.TRAIN_METRICS_DIR),
            dvcyaml=False,
            save_dvc_exp=False,
            resume=backup.resuming,
        )
        with live:
            classifier = train(params, data, [EpochCurves(live=live)], backup, devices, groups)
        if devices.is_chief:
            save_classifier(classifier, layout.MODEL)
        backup.discard()


if __name__ == "__main__":
    run_main(main)

"""DVC stage `train`: data/shards -> models/model.keras (+ model.json), curves in metrics/train."""

from dvclive import Live
from dvclive.keras import DVCLiveCallback

from genderface import layout
from genderface.errors import run_main
from genderface.model import save_classifier
from genderface.params import load_params
from genderface.training import TrainingData, train


def main() -> None:
    params = load_params()
    data = TrainingData.from_shards(layout.SHARDS_DIR, params)
    with Live(str(layout.TRAIN_METRICS_DIR), dvcyaml=False, save_dvc_exp=False) as live:
        classifier, _ = train(params, data, callbacks=[DVCLiveCallback(live=live)])
    save_classifier(classifier, layout.MODEL)


if __name__ == "__main__":
    run_main(main)

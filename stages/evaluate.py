"""DVC stage `evaluate`: model + test shards -> metrics/eval (scores, confusion matrix, ROC)."""

from pathlib import Path

from dvclive import Live

from genderface.errors import run_main
from genderface.evaluation import compute_metrics, log_evaluation, predict_dataset
from genderface.input_pipeline import ShardInfo, batched, load_split
from genderface.params import load_params
from genderface.predict import load_classifier


def main() -> None:
    params = load_params()
    cfg = params.evaluate
    shards = Path("data/shards")
    info = ShardInfo.read(shards)
    classifier = load_classifier(Path("models/model.keras"))
    test = batched(load_split(shards, "test", info.image_size), cfg.batch_size)
    y_true, y_prob = predict_dataset(classifier.model, test)
    train_counts = list(info.counts["train"].values())
    majority = train_counts.index(max(train_counts))
    scores = compute_metrics(y_true, y_prob, cfg.threshold, info.classes, majority)
    with Live("metrics/eval", dvcyaml=False, save_dvc_exp=False) as live:
        log_evaluation(live, scores, y_true, y_prob, cfg.threshold, info.classes)


if __name__ == "__main__":
    run_main(main)

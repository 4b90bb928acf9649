"""DVC stage `evaluate`: model + test shards -> metrics/eval (scores, confusion matrix, ROC)."""

from dvclive import Live

from genderface import layout
from genderface.errors import run_main
from genderface.evaluation import evaluate, log_evaluation
from genderface.input_pipeline import ShardInfo, batched, load_split
from genderface.model import load_classifier
from genderface.params import load_params


def main() -> None:
    params = load_params()
    info = ShardInfo.read(layout.SHARDS_DIR)
    classifier = load_classifier(layout.MODEL)
    test = batched(load_split(layout.SHARDS_DIR, "test", info), params.evaluate.batch_size)
    result = evaluate(classifier, test, info)
    with Live(str(layout.EVAL_METRICS_DIR), dvcyaml=False, save_dvc_exp=False) as live:
        log_evaluation(live, result)


if __name__ == "__main__":
    run_main(main)

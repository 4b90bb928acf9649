"""DVC stage `evaluate`: model + test shards -> metrics/eval (scores, plots, predictions,
mistakes gallery) and models/MODEL_CARD.md."""

from genderface import layout
from genderface.errors import run_main
from genderface.evaluation.evaluate import run_evaluation
from genderface.evaluation.reporting import write_report
from genderface.params import load_params


def main() -> None:
    params = load_params().evaluate
    report = run_evaluation(params, layout.SHARDS_DIR, layout.MODEL)
    write_report(report)


if __name__ == "__main__":
    run_main(main)

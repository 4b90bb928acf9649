"""DVC stage `evaluate`: model + test shards -> metrics/eval (scores, plots, predictions,
mistakes gallery) and models/MODEL_CARD.md."""

from genderface import layout
from genderface.errors import run_main
from genderface.evaluation import run_evaluation
from genderface.params import load_params
from genderface.reporting import write_report


def main() -> None:
    params = load_params().evaluate
    report = run_evaluation(params, layout.SHARDS_DIR, layout.MODEL)
    write_report(report, params.min_group)


if __name__ == "__main__":
    run_main(main)

"""DVC stage `evaluate`: model + test shards -> metrics/eval (scores, plots, mistakes gallery) and
models/MODEL_CARD.md."""

import json

from dvclive import Live

from genderface import layout
from genderface.errors import run_main
from genderface.evaluation import log_evaluation, log_scores
from genderface.fsutil import write_text
from genderface.model_card import render
from genderface.params import load_params
from genderface.report import mistakes_figure, run_evaluation, save_png


def main() -> None:
    params = load_params().evaluate
    report = run_evaluation(params, layout.SHARDS_DIR, layout.MODEL)
    with Live(str(layout.EVAL_METRICS_DIR), dvcyaml=False, save_dvc_exp=False) as live:
        log_evaluation(live, report.test)
        if report.external is not None:
            log_scores(live, "external", report.external.scores)
    wrong = int((report.test.y_pred != report.test.y_true).sum())
    save_png(mistakes_figure(report.mistakes, wrong), layout.MISTAKES_GALLERY)
    source = json.loads(layout.SOURCE_METRICS.read_text())
    write_text(layout.MODEL_CARD, render(report, source, params.external))


if __name__ == "__main__":
    run_main(main)

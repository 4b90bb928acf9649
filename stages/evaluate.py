"""DVC stage `evaluate`: model + test shards + split manifest -> metrics/eval (scores, by source
and group, plots, predictions, mistakes gallery) and models/MODEL_CARD.md."""

from genderface import entry_point, layout  # noqa: F401 (entry_point first: quiets TensorFlow)
from genderface.errors import run_main
from genderface.evaluation.evaluate import run_evaluation
from genderface.evaluation.reporting import write_report
from genderface.modeling.devices import pin_cpu_kernels
from genderface.params import load_params


def main() -> None:
    params = load_params()
    pin_cpu_kernels(params.train.deterministic)  # the same scores on every CPU
    report = run_evaluation(params.evaluate, layout.SHARDS_DIR, layout.MODEL, layout.MANIFEST)
    write_report(report)


if __name__ == "__main__":
    run_main(main)

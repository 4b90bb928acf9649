"""DVC stage `validate`: data/raw -> data/validate/files.csv, metrics/data.json, metrics/data.md."""

from genderface import entry_point, layout  # noqa: F401 (entry_point first: quiets TensorFlow)
from genderface.data.validate import validate
from genderface.errors import run_main
from genderface.params import load_params


def main() -> None:
    load_params()  # no parameters of its own; a bad params.yaml still stops every stage first
    validate(layout.RAW_DIR, layout.CHECKS, layout.DATA_METRICS, layout.DATA_REPORT)


if __name__ == "__main__":
    run_main(main)

"""DVC stage `validate@<name>`: data/raw/<name> -> data/validate/<name>.csv (each file labelled,
hashed and decoded)."""

import sys

from genderface import entry_point, layout  # noqa: F401 (entry_point first: quiets TensorFlow)
from genderface.data.validate import validate
from genderface.errors import run_main
from genderface.params import load_params


def main() -> None:
    params = load_params()
    source = params.source(sys.argv[1:])
    validate(layout.RAW_DIR, source.name, source.params, layout.checks_file(source.name))


if __name__ == "__main__":
    run_main(main)

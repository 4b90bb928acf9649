"""DVC stage `download@<name>`: one entry of data.sources -> data/raw/<name>, and
metrics/sources/<name>.json."""

import sys

from genderface import entry_point, layout  # noqa: F401 (entry_point first: quiets TensorFlow)
from genderface.data.sources import fetch
from genderface.errors import run_main
from genderface.fsutil import write_json
from genderface.params import load_params


def main() -> None:
    params = load_params()
    source = params.source(sys.argv[1:])
    summary = fetch(source.name, source.params, params.data.demo, layout.RAW_DIR / source.name)
    write_json(layout.source_metrics(source.name), summary.as_metrics())


if __name__ == "__main__":
    run_main(main)

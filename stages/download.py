"""DVC stage `download`: the data source -> data/raw/faces/<class>/..., and metrics/source.json."""

from genderface import entry_point, layout  # noqa: F401 (entry_point first: quiets TensorFlow)
from genderface.data.sources import fetch
from genderface.errors import run_main
from genderface.fsutil import write_json
from genderface.params import load_params


def main() -> None:
    params = load_params()
    summary = fetch(params.data.read, params.data.demo, layout.RAW_DIR)
    write_json(layout.SOURCE_METRICS, summary.as_metrics())


if __name__ == "__main__":
    run_main(main)

"""DVC stage `split`: every source's checks -> data/split/manifest.csv, metrics/data.json and
metrics/data.md."""

from genderface import entry_point, layout  # noqa: F401 (entry_point first: quiets TensorFlow)
from genderface.data.split import SplitFiles, split_sources
from genderface.errors import run_main
from genderface.params import load_params


def main() -> None:
    params = load_params()
    out = SplitFiles(layout.MANIFEST, layout.DATA_METRICS, layout.DATA_REPORT)
    split_sources(params.data.sources, params.split, out)


if __name__ == "__main__":
    run_main(main)

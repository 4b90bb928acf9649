"""DVC stage `split`: data/validate/files.csv (usable files) -> data/split/manifest.csv."""

from genderface import entry_point, layout  # noqa: F401 (entry_point first: quiets TensorFlow)
from genderface.data.manifests import read_checks, write_manifest
from genderface.data.split import split, usable_files
from genderface.errors import run_main
from genderface.params import load_params


def main() -> None:
    params = load_params()
    records = usable_files(read_checks(layout.CHECKS))
    write_manifest(split(records, params.split), layout.MANIFEST)


if __name__ == "__main__":
    run_main(main)

"""DVC stage `split`: data/validate/files.csv (usable files) -> data/split/manifest.csv."""

from genderface import layout
from genderface.errors import run_main
from genderface.manifests import read_checks, write_manifest
from genderface.params import load_params
from genderface.split import split, usable_records


def main() -> None:
    params = load_params()
    records = usable_records(read_checks(layout.CHECKS))
    write_manifest(split(records, params.split), layout.MANIFEST)


if __name__ == "__main__":
    run_main(main)

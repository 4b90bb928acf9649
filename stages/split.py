"""DVC stage `split`: data/raw -> data/split/manifest.csv (path, label, sha256, split)."""

from genderface import layout
from genderface.errors import run_main
from genderface.params import load_params
from genderface.split import scan, split, write_manifest


def main() -> None:
    params = load_params()
    write_manifest(split(scan(layout.RAW_DIR), params.split), layout.MANIFEST)


if __name__ == "__main__":
    run_main(main)

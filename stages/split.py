"""DVC stage `split`: data/raw -> data/split/manifest.csv (path, label, sha256, split)."""

from pathlib import Path

from genderface.errors import run_main
from genderface.params import load_params
from genderface.split import scan, split, write_manifest


def main() -> None:
    params = load_params()
    manifest = split(scan(Path("data/raw")), params.split)
    write_manifest(manifest, Path("data/split/manifest.csv"))


if __name__ == "__main__":
    run_main(main)

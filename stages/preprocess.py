"""DVC stage `preprocess`: manifest + data/raw -> data/shards/<split>-*.tfrecord and meta.json."""

from pathlib import Path

from genderface.errors import run_main
from genderface.params import load_params
from genderface.preprocess import write_shards
from genderface.split import read_manifest


def main() -> None:
    params = load_params()
    write_shards(
        read_manifest(Path("data/split/manifest.csv")),
        raw_dir=Path("data/raw"),
        out_dir=Path("data/shards"),
        image_size=params.data.image_size,
        images_per_shard=params.preprocess.images_per_shard,
    )


if __name__ == "__main__":
    run_main(main)

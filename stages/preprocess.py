"""DVC stage `preprocess`: manifest + data/raw -> data/shards/<split>-*.tfrecord and meta.json."""

from genderface import layout
from genderface.data.manifests import read_manifest
from genderface.data.preprocess import write_shards
from genderface.errors import run_main
from genderface.params import load_params


def main() -> None:
    params = load_params()
    write_shards(
        read_manifest(layout.MANIFEST),
        raw_dir=layout.RAW_DIR,
        out_dir=layout.SHARDS_DIR,
        image_size=params.data.image_size,
        images_per_shard=params.preprocess.images_per_shard,
    )


if __name__ == "__main__":
    run_main(main)

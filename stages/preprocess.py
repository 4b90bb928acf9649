"""DVC stage `preprocess`: manifest + data/raw -> framed images in data/shards/<split>-*.tfrecord
and meta.json; metrics/framing.json and framing.md (no face found, per split and class)."""

from genderface import entry_point, layout  # noqa: F401 (entry_point first: quiets TensorFlow)
from genderface.data.framing import Framing
from genderface.data.manifests import read_manifest
from genderface.data.preprocess import (
    FRAMING_METRICS,
    FRAMING_REPORT,
    write_framing_report,
    write_shards,
)
from genderface.errors import run_main
from genderface.params import load_params


def main() -> None:
    params = load_params()
    meta = write_shards(
        read_manifest(layout.MANIFEST),
        raw_dir=layout.RAW_DIR,
        out_dir=layout.SHARDS_DIR,
        image_size=params.data.image_size,
        images_per_shard=params.preprocess.images_per_shard,
        framing=Framing.of(params.data),
    )
    write_framing_report(meta, FRAMING_METRICS, FRAMING_REPORT)


if __name__ == "__main__":
    run_main(main)

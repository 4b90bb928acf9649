"""DVC stage `export`: models/model.keras -> models/model.tflite (LiteRT), checked against it on
the validation split (metrics/export.json), and export.quantize's smaller model in
models/quantized/."""

from genderface import layout
from genderface.errors import run_main
from genderface.fsutil import write_json
from genderface.modeling.export import export_model
from genderface.params import load_params


def main() -> None:
    params = load_params().export
    report = export_model(layout.MODEL, layout.SHARDS_DIR, layout.TFLITE_MODEL, params)
    write_json(layout.EXPORT_METRICS, report.as_dict())


if __name__ == "__main__":
    run_main(main)

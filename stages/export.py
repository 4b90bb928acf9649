"""DVC stage `export`: models/model.keras -> models/model.tflite (LiteRT), checked against it on
the validation split (metrics/export.json), and export.quantize's smaller model in
models/quantized/."""

from genderface import entry_point, layout  # noqa: F401 (entry_point first: quiets TensorFlow)
from genderface.errors import run_main
from genderface.fsutil import write_json
from genderface.modeling.devices import pin_cpu_kernels
from genderface.modeling.export import export_model
from genderface.params import load_params


def main() -> None:
    params = load_params()
    pin_cpu_kernels(params.train.deterministic)  # the Keras model's outputs as train made them
    report = export_model(layout.MODEL, layout.SHARDS_DIR, layout.TFLITE_MODEL, params.export)
    write_json(layout.EXPORT_METRICS, report.as_dict())


if __name__ == "__main__":
    run_main(main)

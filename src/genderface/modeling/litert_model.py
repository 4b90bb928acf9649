"""models/model.tflite on LiteRT (ai-edge-litert): the exported model, run without TensorFlow.

What `genderface predict` runs by default, and what the export stage checks against the Keras
model it was converted from. The file takes a batch of float32 pixels in [0, 255] of any size
(its batch dimension is dynamic) and returns the probability of class 1, like the Keras model;
its sidecar is the same models/model.json (classes, threshold).
"""

import os
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from genderface.errors import GenderfaceError, verbose
from genderface.modeling.model_info import ModelInfo
from genderface.quiet import native_stderr_silenced


class LiteModel:
    """One interpreter over a .tflite classifier, resized to each batch's size as it comes.

    Not thread-safe (one interpreter, one set of tensors): one per thread.
    """

    def __init__(self, content: bytes, threads: int | None = None) -> None:
        """content: the .tflite file's bytes; threads: XNNPACK's, default every core."""
        # LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on stderr
        # from C++ as it starts; predict's stderr carries only its own lines (quiet.py).
        with nullcontext() if verbose() else native_stderr_silenced():
            self._interpreter = Interpreter(
                model_content=content, num_threads=threads or os.cpu_count() or 1
            )
            self._interpreter.allocate_tensors()
        (self._input,) = self._interpreter.get_input_details()
        (self._output,) = self._interpreter.get_output_details()
        self._batch = int(self._input["shape"][0])

    @property
    def image_size(self) -> int:
        return int(self._input["shape"][1])

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """(n, size, size, 3) float32 pixels in [0, 255] -> (n, 1) probabilities of class 1."""
        images = np.ascontiguousarray(images, dtype=np.float32)
        if len(images) != self._batch:
            shape = [len(images), *self._input["shape"][1:]]
            self._interpreter.resize_tensor_input(self._input["index"], shape)
            self._interpreter.allocate_tensors()
            self._batch = len(images)
        self._interpreter.set_tensor(self._input["index"], images)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output["index"]).copy()


@dataclass(frozen=True)
class LiteClassifier:
    """The exported model and its sidecar: what predict runs by default."""

    model: LiteModel
    info: ModelInfo

    @property
    def image_size(self) -> int:
        return self.model.image_size


def load_lite_classifier(path: Path) -> LiteClassifier:
    """The .tflite model and its sidecar, or one line saying which file is missing or broken."""
    info = ModelInfo.read(path)
    try:
        model = LiteModel(path.read_bytes())
    except (ValueError, RuntimeError) as err:
        raise GenderfaceError(
            f"{path}: cannot load the model ({type(err).__name__}); rebuild it with dvc repro"
        ) from None
    return LiteClassifier(model, info)

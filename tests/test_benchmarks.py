"""The benchmark scripts run end to end at a tiny size (their figures are quoted in the docs)."""

import re
import subprocess
import sys

import pytest

from .conftest import REPO, require_sample


@pytest.mark.slow  # starts `genderface predict` eight times, four of them with TensorFlow
def test_predict_benchmark_times_both_paths_at_a_tiny_size():
    sample = require_sample()
    command = [sys.executable, str(REPO / "benchmarks" / "predict.py"), "--sample", str(sample)]
    tiny = ["--images", "6", "--runs", "1", "--image-size", "32"]
    run = subprocess.run([*command, *tiny], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert re.fullmatch(
        r"    Keras \(\.keras\) [\d.]+ s, LiteRT \(\.tflite\) [\d.]+ s: Keras/LiteRT [\d.]+x",
        lines[1],
    ), lines
    rate = r"[\d.]+ img/s \([\d.]+ s\)"
    folder = rf"Keras {rate}, LiteRT {rate}: LiteRT/Keras [\d.]+x; same label 6/6"
    assert re.fullmatch(rf"    whole image: {folder}", lines[3]), lines
    assert re.fullmatch(rf"    --crop-face: {folder}", lines[4]), lines

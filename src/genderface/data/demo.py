"""The offline demo dataset: synthetic face-like crops in the Kaggle archive's layout.

It exists so that a fresh machine with no network and no Kaggle credentials can run every stage.
The classes differ by drawn cues (beard and short hair vs. long hair), so a model can learn them;
nothing about real faces should be read into its metrics. Like the real archive, some files named
.jpg hold PNG data and sizes vary.
"""

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from genderface.params import DemoParams

CLASSES = ("man", "woman")
_SIZES = (0.5, 1.0, 1.0, 2.0)
_PNG_SHARE = {"man": 0.35, "woman": 0.57}


def _draw_face(label: str, size: int, rng: np.random.Generator) -> Image.Image:
    background = tuple(int(v) for v in rng.integers(40, 220, size=3))
    skin = tuple(int(v) for v in rng.integers(150, 240, size=3))
    hair = tuple(int(v) for v in rng.integers(10, 90, size=3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    cx = size * (0.5 + rng.uniform(-0.08, 0.08))
    cy = size * (0.5 + rng.uniform(-0.08, 0.08))
    w, h = size * rng.uniform(0.26, 0.32), size * rng.uniform(0.34, 0.4)
    if label == "woman":
        draw.rectangle((cx - w * 1.35, cy - h * 0.9, cx + w * 1.35, cy + h * 1.25), fill=hair)
    draw.ellipse((cx - w, cy - h, cx + w, cy + h), fill=skin)
    draw.chord((cx - w, cy - h * 1.05, cx + w, cy + h * 0.2), 180, 360, fill=hair)
    if label == "man":
        draw.chord((cx - w, cy - h * 0.1, cx + w, cy + h), 0, 180, fill=hair)
    eye = size * 0.03
    for dx in (-0.4, 0.4):
        ex, ey = cx + dx * w, cy - 0.15 * h
        draw.ellipse((ex - eye, ey - eye, ex + eye, ey + eye), fill=(20, 20, 20))
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(size / 96)), dtype=np.int16)
    noisy = pixels + rng.integers(-12, 13, size=pixels.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def _encode(image: Image.Image, as_png: bool) -> bytes:
    buffer = io.BytesIO()
    if as_png:
        image.save(buffer, format="PNG")
    else:
        image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def write_demo(params: DemoParams, faces_dir: Path) -> None:
    """Write faces/<class>/<class>_<N>.jpg deterministically from params (seed, counts, size)."""
    rng = np.random.default_rng(params.seed)
    for label in CLASSES:
        class_dir = faces_dir / label
        class_dir.mkdir(parents=True)
        for index in range(getattr(params, label)):
            size = max(16, int(params.size * _SIZES[index % len(_SIZES)]))
            image = _draw_face(label, size, rng)
            as_png = rng.random() < _PNG_SHARE[label]
            (class_dir / f"{label}_{index}.jpg").write_bytes(_encode(image, as_png))

"""Face cropping for predict --crop-face: OpenCV's bundled Haar cascade finds the largest frontal
face in an upright photo, and the model classifies a square crop around it.

The model was trained on face crops; a whole photo of a person is a different kind of input. The
file is decoded by images.load_upright and the crop resized by images.resized, the two halves of
images.load_rgb, so an unreadable file fails with the same message as everywhere else.
"""

from functools import cache
from pathlib import Path

import cv2
import numpy as np

from genderface.images import load_upright, resized

CASCADE = "haarcascade_frontalface_default.xml"
MARGIN = 0.2  # of the detected box's side, added on every side: the dataset's crops show some hair
DETECT_SIDE = 800  # photos are shrunk to at most this many pixels a side for detection (speed)
FOUND, NONE = "found", "none"

Box = tuple[int, int, int, int]  # x, y, width, height in pixels of the upright image


@cache
def _cascade() -> cv2.CascadeClassifier:
    return cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)


def largest_face(rgb: np.ndarray) -> Box | None:
    """The largest frontal face in an upright RGB image, or None."""
    height, width = rgb.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(height, width))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        gray = cv2.resize(gray, (round(width * scale), round(height * scale)))
    found = _cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
    if len(found) == 0:
        return None
    x, y, w, h = max(found.tolist(), key=lambda box: box[2] * box[3])
    return round(x / scale), round(y / scale), round(w / scale), round(h / scale)


def crop_box(face: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of a square around the face with MARGIN, inside the image."""
    x, y, w, h = face
    side = max(w, h) * (1 + 2 * MARGIN)
    cx, cy = x + w / 2, y + h / 2
    left, top = max(0, round(cx - side / 2)), max(0, round(cy - side / 2))
    return left, top, min(width, round(cx + side / 2)), min(height, round(cy + side / 2))


def load_face(path: Path, size: int) -> tuple[np.ndarray, str]:
    """The largest face as (size, size, 3) uint8 and "found", or the whole image and "none".

    EXIF orientation is applied before detection: the cascade finds upright faces only.
    """
    upright = load_upright(path)  # raises the standard ImageError for an unreadable file
    face = largest_face(np.asarray(upright))
    if face is None:
        return resized(upright, size), NONE
    return resized(upright.crop(crop_box(face, upright.width, upright.height)), size), FOUND

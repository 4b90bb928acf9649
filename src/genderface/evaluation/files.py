"""Scoring image files a batch at a time: an external folder (evaluate) and predict's arguments.

Each file is decoded by a Loader (the whole image, or the crop around its face), batches of
pixels go through a forward pass (modeling/forward.py), and every file gets one result, in
order: its probability of class 1, or a Failure saying why it could not be read.
"""

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genderface.data.images import ImageError, load_rgb

Loader = Callable[[Path, int], tuple[np.ndarray, str | None]]
"""Decodes one file to (size, size, 3) uint8 pixels plus a note on what was classified: None for
the whole image, or the face finder's verdict (data/faces.py)."""

Forward = Callable[[np.ndarray], np.ndarray]
"""A batch of float32 pixels in [0, 255] -> one probability of class 1 per image."""


@dataclass(frozen=True)
class Scored:
    """A decoded file and the model's probability of class 1."""

    path: str
    probability: float
    face: str | None


@dataclass(frozen=True)
class Failure:
    path: str
    reason: str


def whole_image(path: Path, size: int) -> tuple[np.ndarray, None]:
    return load_rgb(path, size), None


@dataclass(frozen=True)
class _Decoded:
    path: Path
    face: str | None


@dataclass(frozen=True)
class _Chunk:
    """One batch worth of files, each decoded or a Failure, and the decoded ones' pixels."""

    results: list[_Decoded | Failure]
    pixels: np.ndarray


def _decode(paths: list[Path], loader: Loader, size: int) -> _Chunk:
    results: list[_Decoded | Failure] = []
    pixels = []
    for path in paths:
        try:
            image, face = loader(path, size)
        except ImageError as err:
            results.append(Failure(str(path), str(err)))
            continue
        results.append(_Decoded(path, face))
        pixels.append(image)
    stacked = np.stack(pixels) if pixels else np.zeros((0, size, size, 3), np.uint8)
    return _Chunk(results, stacked.astype(np.float32))


def score_files(
    forward: Forward,
    paths: list[Path],
    size: int,
    batch_size: int = 32,
    loader: Loader = whole_image,
) -> Iterator[Scored | Failure]:
    """One result per path, in order, a batch at a time; an unreadable file becomes a Failure,
    not an exception, so one bad file never stops the rest. `size` is the model's input side."""
    chunks = (
        _decode(paths[start : start + batch_size], loader, size)
        for start in range(0, len(paths), batch_size)
    )
    for_results, for_model = itertools.tee(chunks)
    batches = (forward(c.pixels).reshape(-1) for c in for_model if len(c.pixels))
    for chunk in for_results:
        scores = iter(next(batches).tolist() if len(chunk.pixels) else [])
        for result in chunk.results:
            if isinstance(result, Failure):
                yield result
            else:
                yield Scored(str(result.path), next(scores), result.face)

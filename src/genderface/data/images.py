"""Decoding one image to a square RGB array: the single path used by validate, preprocess, predict.

Decoding goes by content, not by file name (the archive has many PNGs named .jpg), honours EXIF
orientation, turns every mode Pillow knows (palette, grey, 16-bit, alpha, CMYK) into 8-bit RGB,
and refuses images whose header claims more pixels than MAX_PIXELS before anything is allocated
(a decompression bomb). Any unreadable input becomes an ImageError naming it.
"""

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from genderface.errors import GenderfaceError

MAX_PIXELS = 50_000_000
"""About 7000 x 7000. The archive's largest crop is under 2000 px a side; a 30000 x 30000 PNG of
a few kilobytes would otherwise need 2.7 GB as RGB."""

# Pillow imports its format plugins lazily, on the first open. Decode threads opening their first
# files at once then race on those imports and can deadlock on the import lock (in validate's
# thread pool), so every plugin is loaded now, once, in the importing thread.
Image.init()

BACKGROUND = (255, 255, 255)
"""What transparent pixels become: white, as an image viewer shows them on a page."""


class ImageError(GenderfaceError):
    """A file that cannot be decoded as an image."""


@dataclass(frozen=True)
class ImageFacts:
    """What a file really is: its format by content (JPEG, PNG, ...) and its size in pixels."""

    format: str
    width: int
    height: int


@contextmanager
def _opened(source: Path | bytes, name: str) -> Iterator[Image.Image]:
    """Image.open that checks the size from the header before any pixel is decoded.

    Errors raised while the caller decodes inside the `with` block come back through here too,
    so every failure becomes one ImageError.
    """
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageError(
                    f"{name}: {width}x{height} pixels, more than {MAX_PIXELS:,}; refused as a "
                    "likely decompression bomb"
                )
            yield image
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{name}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image (unrecognised format)") from None
    except Image.DecompressionBombError as err:
        raise ImageError(f"{name}: refused as a likely decompression bomb ({err})") from None
    except (OSError, ValueError, SyntaxError, EOFError) as err:
        raise ImageError(f"{name}: unreadable image ({err})") from None


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB from any mode; 16-bit grey is scaled (Pillow's convert would clip it to white)."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        wide = np.asarray(image).astype(np.uint32) >> 8
        image = Image.fromarray(np.clip(wide, 0, 255).astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def inspect(data: bytes, name: str) -> ImageFacts:
    """Decode the whole image once (truncation only shows then) and say what it is."""
    with _opened(data, name) as image:
        image.load()
        return ImageFacts(image.format or "unknown", *image.size)


def load_upright(path: Path, draft: int | None = None) -> Image.Image:
    """The image at `path`, upright, 8-bit RGB (at least `draft` pixels a side, if given)."""
    with _opened(path, str(path)) as image:
        if draft:
            image.draft("RGB", (draft, draft))
        upright = _to_rgb(ImageOps.exif_transpose(image))
        upright.load()  # before the file closes
        return upright


def resized(image: Image.Image, size: int) -> np.ndarray:
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def load_rgb(path: Path, size: int) -> np.ndarray:
    """Return the image at `path` as uint8 RGB of shape (size, size, 3), upright."""
    return resized(load_upright(path, draft=size), size)

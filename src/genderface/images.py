"""Decoding one image file to a square RGB array: the single path used by preprocess and predict.

Decoding goes by content, not by file name (the archive has many PNGs named .jpg), honours EXIF
orientation, and any unreadable file becomes an ImageError naming it.
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from genderface.errors import GenderfaceError


class ImageError(GenderfaceError):
    """A file that cannot be decoded as an image."""


def load_rgb(path: Path, size: int) -> np.ndarray:
    """Return the image at `path` as uint8 RGB of shape (size, size, 3)."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))
            upright = ImageOps.exif_transpose(image)
            rgb = upright.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image (unrecognised format)") from None
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise ImageError(f"{path}: unreadable image ({err})") from None
    return np.asarray(rgb, dtype=np.uint8)

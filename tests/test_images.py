import io

import numpy as np
import pytest
from PIL import Image

from genderface.images import ImageError, load_rgb

from .conftest import image_bytes


def test_png_data_under_a_jpg_name_decodes_by_content(tmp_path):
    path = tmp_path / "man_1.jpg"
    path.write_bytes(image_bytes((10, 200, 30), "PNG"))
    pixels = load_rgb(path, 32)
    assert pixels.shape == (32, 32, 3)
    assert pixels.dtype == np.uint8
    assert pixels[..., 1].mean() > 150 > pixels[..., 0].mean()


@pytest.mark.parametrize("mode", ["L", "RGBA", "P"])
def test_grayscale_rgba_and_palette_become_rgb(tmp_path, mode):
    path = tmp_path / "x.jpg"
    Image.new("RGB", (50, 40), (200, 20, 20)).convert(mode).save(path, format="PNG")
    assert load_rgb(path, 32).shape == (32, 32, 3)


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (60, 30), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    path = tmp_path / "rotated.jpg"
    path.write_bytes(buffer.getvalue())
    pixels = load_rgb(path, 32).mean(axis=2)
    assert pixels[:16].mean() > 200 > 50 > pixels[16:].mean()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "not an image"),
        (b"hello, not a picture", "not an image"),
        (image_bytes((1, 2, 3), "JPEG")[:200], "unreadable image"),
    ],
)
def test_unreadable_files_raise_image_error_naming_the_file(tmp_path, content, expected):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=expected) as info:
        load_rgb(path, 32)
    assert str(path) in str(info.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_rgb(tmp_path / "missing.jpg", 32)
    with pytest.raises(ImageError, match="is a folder"):
        load_rgb(tmp_path, 32)

import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from genderface.data.images import ImageError, inspect, load_rgb

from .conftest import image_bytes, png_bytes


def test_png_data_under_a_jpg_name_decodes_by_content(tmp_path):
    path = tmp_path / "man_1.jpg"
    path.write_bytes(image_bytes((10, 200, 30), "PNG"))
    pixels = load_rgb(path, 32)
    assert pixels.shape == (32, 32, 3)
    assert pixels.dtype == np.uint8
    assert pixels[..., 1].mean() > 150 > pixels[..., 0].mean()


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("L", (74, 74, 74)), ("RGBA", (200, 20, 20)), ("P", (200, 20, 20)), ("LA", (74, 74, 74))],
)
def test_grayscale_rgba_and_palette_become_rgb(tmp_path, mode, expected):
    """Grey keeps its luma (0.299 R + 0.587 G + 0.114 B of the source red = 74)."""
    path = tmp_path / "x.jpg"
    image = Image.new("RGB", (50, 40), (200, 20, 20))
    palette = Image.Palette.ADAPTIVE if mode == "P" else Image.Palette.WEB
    image.convert(mode, palette=palette).save(path, format="PNG")
    assert Image.open(path).mode == mode
    pixels = load_rgb(path, 32)
    assert pixels.shape == (32, 32, 3)
    np.testing.assert_allclose(pixels[16, 16], expected, atol=2)


@pytest.mark.parametrize("mode", ["RGBA", "P"])
def test_transparent_pixels_become_white_not_black(tmp_path, mode):
    image = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    image.paste((200, 20, 20, 255), (0, 0, 20, 40))
    if mode == "P":
        image = image.convert("P")  # Pillow keeps transparency as a palette entry (tRNS)
    image.save(tmp_path / "t.png")
    pixels = load_rgb(tmp_path / "t.png", 40).astype(int)
    np.testing.assert_allclose(pixels[20, 5], (200, 20, 20), atol=2)
    np.testing.assert_allclose(pixels[20, 35], (255, 255, 255), atol=2)


def test_16_bit_png_is_scaled_to_8_bit_not_clipped(tmp_path):
    grey = np.full((30, 40), 40000, dtype=">u2")
    rows = b"".join(b"\0" + row.tobytes() for row in grey)
    (tmp_path / "grey16.png").write_bytes(png_bytes(40, 30, 16, 0, rows))
    np.testing.assert_array_equal(load_rgb(tmp_path / "grey16.png", 32)[5, 5], (156, 156, 156))
    rgb = np.empty((30, 40, 3), dtype=">u2")
    rgb[...] = (65535, 32768, 0)
    rows = b"".join(b"\0" + row.tobytes() for row in rgb)
    (tmp_path / "rgb16.png").write_bytes(png_bytes(40, 30, 16, 2, rows))
    np.testing.assert_array_equal(load_rgb(tmp_path / "rgb16.png", 32)[5, 5], (255, 128, 0))


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (40, 40), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    np.testing.assert_allclose(load_rgb(tmp_path / "cmyk.jpg", 32)[16, 16], (255, 0, 0), atol=3)


def test_a_decompression_bomb_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    """30000 x 30000 RGB would take 2.7 GB; the file is a few bytes and must be refused as is."""
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bytes(30000, 30000, 8, 2, b"\0" * 90001))

    def no_decoding(image: ImageFile.ImageFile) -> None:
        raise AssertionError(f"{image.size} image decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageError, match="decompression bomb"):
        load_rgb(path, 32)
    with pytest.raises(ImageError, match="decompression bomb"):
        inspect(path.read_bytes(), "bomb.png")
    just_over = tmp_path / "just_over.png"
    just_over.write_bytes(png_bytes(10000, 5001, 8, 0, b"\0" * 10001))
    with pytest.raises(ImageError, match="10000x5001 pixels, more than 50,000,000; refused"):
        load_rgb(just_over, 32)


@pytest.mark.parametrize(
    ("orientation", "white"),
    [(1, "left"), (3, "right"), (6, "top"), (8, "bottom")],
)
def test_exif_orientation_is_applied(tmp_path, orientation, white):
    """Stored 60x30 with its left half white; EXIF says how to turn it upright."""
    image = Image.new("RGB", (60, 30), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    path = tmp_path / "rotated.jpg"
    path.write_bytes(buffer.getvalue())
    pixels = load_rgb(path, 32).mean(axis=2)
    halves = {
        "left": (pixels[:, :16], pixels[:, 16:]),
        "right": (pixels[:, 16:], pixels[:, :16]),
        "top": (pixels[:16], pixels[16:]),
        "bottom": (pixels[16:], pixels[:16]),
    }
    bright, dark = halves[white]
    assert bright.mean() > 200 > 50 > dark.mean()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "not an image"),
        (b"hello, not a picture", "not an image"),
        (image_bytes((1, 2, 3), "JPEG")[:200], "unreadable image"),
        (image_bytes((1, 2, 3), "PNG", size=200)[:-300], "unreadable image"),
        (image_bytes((1, 2, 3), "JPEG", size=200)[:-300], "unreadable image"),
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


def test_pillow_plugins_are_loaded_before_any_decode_thread_starts():
    """Lazy plugin imports from several threads at once can deadlock: images.py loads them all."""
    import subprocess
    import sys

    probe = "import genderface.data.images; from PIL import Image; print(Image._initialized)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "2"

"""predict's face framing: BlazeFace finds real faces (fairface-540 crops placed on canvases) and
the model classifies the crop, through the installed `genderface` command on the exported model
(LiteRT, predict's default); a picture with no face found gets no label."""

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genderface.data import faces
from genderface.data.framing import Framing
from genderface.data.images import load_rgb, load_upright
from genderface.modeling.litert_model import LiteClassifier, load_lite_classifier

from .conftest import REPO, tiny_params_dict

MARGIN = tiny_params_dict()["data"]["face_margin"]  # the trained model's (data.face_margin)

# Crops with one clear face each (checked in test_the_chosen_crops_hold_one_face).
PORTRAITS = ("woman/fairface_0003.jpg", "man/fairface_0011.jpg", "man/fairface_0052.jpg")


def genderface(*args: str) -> subprocess.CompletedProcess:
    """The installed console script, running this checkout's package."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("genderface")), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        timeout=300,
    )


def background(width: int, height: int, seed: int = 0) -> Image.Image:
    """A plain wall with some grain."""
    rng = np.random.default_rng(seed)
    pixels = np.array([150, 160, 170]) + rng.normal(0, 8, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def only_face(image: Image.Image) -> faces.Face:
    found = faces.detect(image)
    assert len(found) == 1, [face.box for face in found]
    return found[0]


def centre(face: faces.Face) -> np.ndarray:
    return (face.box[:2] + face.box[2:]) / 2


def face_side(face: faces.Face) -> float:
    return float(face.box[2] - face.box[0])


def score_of(classifier: LiteClassifier, pixels: np.ndarray) -> float:
    return float(classifier.model(pixels[None].astype(np.float32))[0, 0])


def test_the_chosen_crops_hold_one_face(fairface):
    for name in PORTRAITS:
        assert only_face(Image.open(fairface / name).convert("RGB")).score > 0.8


def test_anchors_follow_mediapipe_layout():
    short, full = faces.anchors(faces.SHORT_RANGE), faces.anchors(faces.FULL_RANGE)
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    # 16 x 16 cells of 2 anchors, then 8 x 8 cells of 6; row by row, x fastest.
    assert short[:4].tolist() == [[1 / 32, 1 / 32]] * 2 + [[3 / 32, 1 / 32]] * 2
    assert short[512:518].tolist() == [[1 / 16, 1 / 16]] * 6
    assert full[48].tolist() == [1 / 96, 3 / 96]


def test_weighted_suppression_averages_overlaps_and_keeps_apart_faces():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], dtype=float)
    points = np.zeros((3, 6, 2))
    points[1] = 3.0
    scores = np.array([0.9, 0.6, 0.7])
    kept = faces._weighted_nms(boxes, points, scores)
    assert [score for score, _, _ in kept] == [0.9, 0.7]
    np.testing.assert_allclose(kept[0][1], [0.4, 0, 10.4, 10])  # 0.9 / 1.5 and 0.6 / 1.5
    np.testing.assert_allclose(kept[0][2], np.full((6, 2), 1.2))
    np.testing.assert_allclose(kept[1][1], boxes[2])


@pytest.fixture(scope="module")
def scenes(fairface, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """Each scene's file and what was drawn in it: the face's centre and side in its pixels."""
    folder = tmp_path_factory.mktemp("scenes")
    first, second, third = (Image.open(fairface / name).convert("RGB") for name in PORTRAITS)
    drawn = {}

    # Off-centre: a 300 px crop in the top right corner of a 1600 x 1200 canvas.
    canvas, scale, left, top = background(1600, 1200), 300 / first.width, 1200, 120
    canvas.paste(first.resize((300, 300)), (left, top))
    truth = only_face(first)
    drawn["off_centre"] = (centre(truth) * scale + (left, top), face_side(truth) * scale)
    canvas.save(folder / "off_centre.png")

    # Two faces: the second crop (480 px) larger than the third (280 px).
    canvas = background(1000, 600, seed=1)
    canvas.paste(third.resize((280, 280)), (40, 160))
    canvas.paste(second.resize((480, 480)), (480, 60))
    truth = only_face(second)
    drawn["two_faces"] = (centre(truth) * 480 / second.width + (480, 60), face_side(truth))
    canvas.save(folder / "two_faces.png")

    # Rotated: the face tilted 25 degrees in the picture, stored sideways with EXIF orientation 6.
    canvas = background(900, 1200, seed=2)
    canvas.paste(first.rotate(25, Image.Resampling.BILINEAR, fillcolor=(150, 160, 170)), (220, 300))
    canvas.save(folder / "tilted.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # the viewer turns it 90 degrees clockwise to show it upright
    canvas.transpose(Image.Transpose.ROTATE_90).save(folder / "sideways.jpg", quality=95, exif=exif)

    canvas.convert("L").save(folder / "grey.png")
    first.resize((40, 40), Image.Resampling.BILINEAR).save(folder / "tiny.png")
    ramp = np.linspace(0, 255, 640, dtype=np.uint8)
    Image.fromarray(np.stack([np.tile(ramp, (480, 1))] * 3, axis=-1)).save(folder / "none.png")
    Image.new("RGB", (640, 480), (255, 255, 255)).save(folder / "blank.png")
    Image.new("RGB", (1, 1), (128, 128, 128)).save(folder / "pixel.png")
    Image.new("RGBA", (200, 200), (0, 0, 0, 0)).save(folder / "transparent.png")
    return {path.stem: (path, drawn.get(path.stem)) for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def predicted(scenes, exported_model) -> dict[str, dict]:
    """One `genderface predict --format json` over every scene, framed as the model was trained:
    its face (the default, from models/model.json)."""
    paths = [str(path) for path, _ in scenes.values()]
    run = genderface("predict", "--model", str(exported_model), "--format", "json", *paths)
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    return {Path(record["path"]).stem: record for record in records}


@pytest.fixture(scope="module")
def classifier(exported_model) -> LiteClassifier:
    """The model predict runs, in this process: the reference for its probabilities."""
    return load_lite_classifier(exported_model)


def label_of(classifier: LiteClassifier, score: float) -> str:
    return classifier.info.classes[int(score >= classifier.info.threshold)]


def test_the_model_records_the_face_framing_it_was_trained_with(classifier):
    assert classifier.info.framing == Framing("face", MARGIN)


def test_every_scene_is_labelled_from_the_crop_load_face_makes(scenes, predicted, classifier):
    for name, (path, _) in scenes.items():
        pixels, note = faces.load_face(path, classifier.image_size, MARGIN)
        assert pixels.shape == (classifier.image_size,) * 2 + (3,) and pixels.dtype == np.uint8
        record = predicted[name]
        assert record["face"] == note, name
        if note == faces.NONE:
            continue
        score = score_of(classifier, pixels)
        assert record["label"] == label_of(classifier, score)
        assert record["p_woman"] == pytest.approx(score, abs=1e-5)


def found_note(path: Path) -> str:
    """What predict must say of a picture with a face: "found" and the face's score, computed
    here in-process from the upright picture, apart from predict's own process."""
    face = faces.find_face(load_upright(path))
    assert face is not None, path
    assert 0.5 <= face.score <= 1
    return f"found {face.score:.2f}"


def test_an_off_centre_face_is_cropped_where_it_is(scenes, predicted):
    path, (face_centre, side) = scenes["off_centre"]
    assert predicted["off_centre"]["face"] == found_note(path)
    image = load_upright(path)
    where = faces.square(faces.find_face(image), image.width, image.height, MARGIN)
    assert np.linalg.norm(where.centre - face_centre) < 0.1 * side
    assert (1 + 2 * MARGIN) * 0.8 * side < where.side < 2 * side
    assert abs(where.angle) < 0.1


def test_of_two_faces_the_larger_is_cropped(scenes, predicted):
    path, (larger, side) = scenes["two_faces"]
    assert predicted["two_faces"]["face"] == found_note(path)
    image = load_upright(path)
    assert len(faces.detect(image)) == 2
    assert np.linalg.norm(centre(faces.find_face(image)) - larger) < 0.1 * side


def test_a_sideways_and_tilted_face_is_turned_upright(scenes, predicted):
    assert predicted["sideways"]["face"] == found_note(scenes["sideways"][0])
    upright = load_upright(scenes["sideways"][0])
    assert upright.size == (900, 1200)  # EXIF orientation applied before detection
    where = faces.square(faces.find_face(upright), 900, 1200, MARGIN)
    assert np.degrees(where.angle) == pytest.approx(-25, abs=6)  # the eyes rise to the right

    turned = faces.crop(upright, where)
    unturned = faces.crop(upright, faces.Square(where.centre, where.side, 0.0))
    tilt = [faces.square(only_face(image), *image.size, 0).angle for image in (turned, unturned)]
    assert np.degrees(tilt) == pytest.approx([0, -25], abs=6)


def test_grey_and_tiny_images_are_cropped(scenes, predicted):
    for name in ("grey", "tiny"):
        assert predicted[name]["face"] == found_note(scenes[name][0]), name


NO_FACE_SCENES = ("blank", "none", "pixel", "transparent")


def test_a_picture_with_no_face_gets_no_label(scenes, predicted, classifier, exported_model):
    """Blank, a ramp, one pixel, fully transparent: "no face", no probability (a label here would
    be confident about nothing), in every format."""
    threshold = classifier.info.threshold
    for name in NO_FACE_SCENES:
        path = str(scenes[name][0])
        assert predicted[name] == {
            "path": path,
            "label": "no face",
            "p_woman": None,
            "threshold": threshold,
            "face": "none",
        }
    paths = [str(scenes[name][0]) for name in NO_FACE_SCENES]
    model = ["predict", "--model", str(exported_model)]
    as_csv = genderface(*model, "--format", "csv", *paths).stdout
    assert list(csv.reader(io.StringIO(as_csv))) == [
        ["path", "label", "p_woman", "threshold", "face"],
        *([path, "no face", "", str(threshold), "none"] for path in paths),
    ]
    header, *rows = genderface(*model, *paths).stdout.splitlines()
    assert header.split() == ["path", "label", "p_woman", "threshold", "face"]
    cells = [re.split(r"\s{2,}", row.strip()) for row in rows]
    assert cells == [[path, "no face", "-", f"{threshold:.4f}", "none"] for path in paths]


def test_whole_image_classifies_a_picture_with_no_face(scenes, classifier, exported_model):
    path = scenes["blank"][0]
    args = ["predict", "--model", str(exported_model), "--format", "json", "--whole-image"]
    record = json.loads(genderface(*args, str(path)).stdout)
    whole = score_of(classifier, load_rgb(path, classifier.image_size))
    assert list(record) == ["path", "label", "p_woman", "threshold"]
    assert (record["label"], record["p_woman"]) == (
        label_of(classifier, whole),
        pytest.approx(whole, abs=1e-5),
    )


def test_margin_widens_the_crop_and_bad_files_are_one_line(
    scenes, exported_model, classifier, tmp_path
):
    path = scenes["off_centre"][0]
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    args = ["predict", "--model", str(exported_model), "--format", "json", "--crop-face"]
    run = genderface(*args, "--margin", "0.6", str(path), str(bad))
    assert run.returncode == 1
    assert run.stderr.splitlines() == [f"error: {bad}: not an image (unrecognised format)"]
    record = json.loads(run.stdout)
    wide, _ = faces.load_face(path, classifier.image_size, margin=0.6)
    narrow, _ = faces.load_face(path, classifier.image_size, MARGIN)
    assert np.abs(wide.astype(int) - narrow).mean() > 5
    assert record["p_woman"] == pytest.approx(score_of(classifier, wide), abs=1e-5)
    default = json.loads(genderface(*args[:-1], str(path)).stdout)  # the model's margin
    assert default["p_woman"] == pytest.approx(score_of(classifier, narrow), abs=1e-5)

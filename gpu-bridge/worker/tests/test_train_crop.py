"""Training pictures are cropped around their subject before a LoRA is trained, on a real photo
(matplotlib's Grace Hopper portrait, the presenter tests' face): the crop holds the face with room
for head and shoulders and has the training size; a picture without a face keeps its most detailed
part; a crop window is never smaller than the minimum resolution."""

from pathlib import Path

import matplotlib.cbook
import numpy as np
from PIL import Image

from spinbot_worker.presenter.portrait import detect_faces
from spinbot_worker.training.crop import MIN_CROP, TRAIN_SIDE, crop_for_training

HOPPER = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def canvas(tmp_path: Path, size: tuple[int, int], photo_scale: float, at: tuple[int, int], name: str) -> Path:
    """The portrait pasted into a larger, plain picture (so a centre crop would miss or cut the face)."""
    with Image.open(HOPPER) as photo:
        photo = photo.convert("RGB").resize((round(photo.width * photo_scale), round(photo.height * photo_scale)), Image.Resampling.LANCZOS)
    picture = Image.new("RGB", size, (118, 124, 130))
    picture.paste(photo, at)
    path = tmp_path / f"{name}.jpg"
    picture.save(path, quality=92)
    return path


def face_in(path: Path) -> tuple[int, int, int, int]:
    with Image.open(path) as image:
        faces = detect_faces(np.asarray(image.convert("RGB")))
    assert faces, f"no face in {path.name}"
    return faces[0][:4]


def inside(face, crop) -> bool:
    x, y, w, h = face
    return crop.left <= x and crop.top <= y and x + w <= crop.left + crop.side and y + h <= crop.top + crop.side


def test_a_face_at_the_edge_of_a_wide_picture_is_cropped_with_head_and_shoulders_at_the_training_size(tmp_path):
    source = canvas(tmp_path, (2400, 1100), 1.8, (2400 - 922, 20), "wide")  # the portrait against the right edge
    crop = crop_for_training(source, tmp_path / "wide-crop.png")
    assert crop.around == "face"
    assert inside(face_in(source), crop), (face_in(source), crop)
    assert crop.left > 1200, "the window moved to the face, away from the centre"
    with Image.open(tmp_path / "wide-crop.png") as out:
        assert out.size == (TRAIN_SIDE, TRAIN_SIDE)
    # In the crop the face is found again, large but with room around it (head and shoulders, not a close-up).
    x, y, w, h = face_in(tmp_path / "wide-crop.png")
    assert 0.2 < h / TRAIN_SIDE < 0.45, h
    assert y + h < 0.7 * TRAIN_SIDE, "room below the face for the shoulders"


def test_the_photo_itself_and_a_small_face_keep_a_window_of_at_least_the_minimum_resolution(tmp_path):
    crop = crop_for_training(HOPPER, tmp_path / "hopper.png")
    assert crop.around == "face" and crop.side == 512 and inside(face_in(HOPPER), crop)  # 512x600: the short side
    small = canvas(tmp_path, (1400, 1400), 0.5, (150, 900), "small")
    crop = crop_for_training(small, tmp_path / "small-crop.png")
    assert crop.around == "face" and crop.side == MIN_CROP, crop  # the face wants less; the window stays 512
    assert inside(face_in(small), crop)
    with Image.open(tmp_path / "small-crop.png") as out:
        assert out.size == (TRAIN_SIDE, TRAIN_SIDE)
    face_in(tmp_path / "small-crop.png")


def test_without_a_face_the_square_with_the_most_detail_is_kept(tmp_path):
    rng = np.random.default_rng(7)
    pixels = np.full((900, 2000, 3), 128, np.uint8)
    pixels[200:700, 100:600] = rng.integers(0, 255, (500, 500, 3), dtype=np.uint8)  # the subject, near the left edge
    source = tmp_path / "detail.png"
    Image.fromarray(pixels).save(source)
    crop = crop_for_training(source, tmp_path / "detail-crop.png")
    assert crop.around == "detail" and crop.side == 900 and crop.top == 0
    assert crop.left <= 100 and crop.left + crop.side >= 600, crop
    with Image.open(tmp_path / "detail-crop.png") as out:
        assert out.size == (TRAIN_SIDE, TRAIN_SIDE)
    # A flat picture keeps its centre.
    Image.new("RGB", (1600, 900), (40, 90, 160)).save(tmp_path / "flat.png")
    flat = crop_for_training(tmp_path / "flat.png", tmp_path / "flat-crop.png")
    assert (flat.left, flat.top, flat.side) == (350, 0, 900)

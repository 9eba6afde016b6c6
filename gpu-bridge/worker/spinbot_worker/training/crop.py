"""Training pictures cropped to the training size around their subject: the largest face with room
for head and shoulders (mediapipe's detector, loaded once by the presenter's portrait module), else
the square that keeps the most detail (edges), so a LoRA learns the subject rather than a centre
cut that lost it. A crop window is never smaller than the minimum resolution, so no picture is
blown up more than TRAIN_SIDE / MIN_CROP times."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..presenter.portrait import WORKING_SIDE, detect_faces

TRAIN_SIDE = 1024  # SDXL's native resolution: every picture becomes 1024x1024 (one latent size, no buckets)
MIN_CROP = 512  # the smallest window cut from a picture (the set's minimum resolution)
HEAD_AND_SHOULDERS = 3.2  # window side / face height: the detector's box spans brows to chin
FACE_AT = 0.4  # the face's centre sits this far down the window, leaving room for the shoulders
MIN_FACE_SHARE = 0.05  # a face smaller than this share of the short side is a passer-by, not the subject


@dataclass(frozen=True)
class Crop:
    left: int
    top: int
    side: int
    around: str  # "face" | "detail"
    face: tuple[int, int, int, int] | None = None  # x, y, width, height in the original picture


def choose_crop(rgb: np.ndarray, min_crop: int = MIN_CROP) -> Crop:
    """The square window to train on, in the picture's own pixels."""
    height, width = rgb.shape[:2]
    short = min(width, height)
    scale = min(1.0, WORKING_SIDE / max(width, height))  # the detector sees at most the presenter's working size
    small = rgb if scale == 1.0 else np.asarray(Image.fromarray(rgb).resize((round(width * scale), round(height * scale)), Image.Resampling.BILINEAR))
    faces = [f for f in detect_faces(small) if f[3] / scale >= MIN_FACE_SHARE * short]
    if faces:
        x, y, w, h = (round(v / scale) for v in faces[0][:4])
        side = int(min(short, max(min_crop, h * HEAD_AND_SHOULDERS)))
        left = _clamp(x + w / 2 - side / 2, width - side)
        top = _clamp(y + h / 2 - side * FACE_AT, height - side)
        return Crop(left, top, side, "face", (x, y, w, h))
    return _detail_crop(small, width, height)


def _detail_crop(small: np.ndarray, width: int, height: int) -> Crop:
    """The largest square, slid along the long side to where the edges are (ties: the centre)."""
    side = min(width, height)
    gray = small.astype(np.float32).mean(axis=2)
    detail = np.zeros_like(gray)
    detail[:, 1:] += np.abs(np.diff(gray, axis=1))
    detail[1:, :] += np.abs(np.diff(gray, axis=0))
    along = detail.sum(axis=0 if width >= height else 1)  # detail per column (landscape) or row (portrait)
    window = max(1, round(len(along) * side / max(width, height)))
    sums = np.convolve(along, np.ones(window), mode="valid")
    centre = (len(sums) - 1) / 2
    # A flat picture (or an even spread) keeps the centre: a small pull towards it breaks ties.
    best = int(np.argmax(sums - 1e-6 * (sums.max() + 1) * np.abs(np.arange(len(sums)) - centre)))
    offset = _clamp(best * max(width, height) / len(along), max(width, height) - side)
    return Crop(offset, 0, side, "detail") if width >= height else Crop(0, offset, side, "detail")


def _clamp(value: float, highest: int) -> int:
    return int(min(max(0, round(value)), max(0, highest)))


def crop_for_training(source: Path, dest: Path, side: int = TRAIN_SIDE, min_crop: int = MIN_CROP) -> Crop:
    """The picture at source, upright, cropped around its subject and resized to side x side, as PNG at dest."""
    with Image.open(source) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    crop = choose_crop(np.asarray(image), min_crop)
    window = image.crop((crop.left, crop.top, crop.left + crop.side, crop.top + crop.side))
    dest.parent.mkdir(parents=True, exist_ok=True)
    window.resize((side, side), Image.Resampling.LANCZOS).save(dest, format="PNG", compress_level=3)
    return crop

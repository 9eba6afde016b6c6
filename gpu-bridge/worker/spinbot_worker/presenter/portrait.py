"""A user's photo as a presenter: checked, downscaled safely, its face found and meshed.

Refusals are one sentence a user can act on (PortraitRejected); nothing is stored for a refused
photo. The declared size is read from the file header and refused before any pixel is decoded, so a
decompression bomb costs nothing.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageOps

MAX_DECLARED_PIXELS = 40_000_000  # larger declared images are refused before decoding
MAX_DECLARED_SIDE = 12_000
WORKING_SIDE = 1600  # photos are downscaled to at most this before any model sees them
MIN_FACE_PIXELS = 96  # a face narrower than this has too few pixels for a mouth to move convincingly

NO_FACE = "I could not find a face in that photo; send a clear, front-facing portrait."


class PortraitRejected(ValueError):
    """A photo that cannot be a presenter; the message is for the user."""


@dataclass(frozen=True)
class Portrait:
    image: np.ndarray  # RGB uint8, at most WORKING_SIDE on its longer side
    landmarks: np.ndarray  # (478, 2) float32 pixel positions of the face mesh (with irises)
    face_box: tuple[int, int, int, int]  # x, y, width, height of the chosen face
    faces_found: int
    note: str  # "" or a sentence for the user (e.g. which of several faces was taken)

    def png(self) -> bytes:
        """The checked, downscaled photo: what is stored as the presenter."""
        buffer = io.BytesIO()
        Image.fromarray(self.image).save(buffer, format="PNG", compress_level=3)
        return buffer.getvalue()


def open_checked(data: bytes) -> Image.Image:
    """The decoded photo, upright, RGB, at most WORKING_SIDE; refusals before decoding when too large."""
    limit = f"send a photo of at most {MAX_DECLARED_PIXELS // 1_000_000} megapixels and {MAX_DECLARED_SIDE} pixels a side"
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError:  # Pillow's own, stricter-than-nothing guard fired first
        raise PortraitRejected(f"That picture is too large; {limit}.") from None
    except Exception:
        raise PortraitRejected("That file is not a picture I can read; send a JPEG or PNG photo.") from None
    width, height = image.size
    if width * height > MAX_DECLARED_PIXELS or max(width, height) > MAX_DECLARED_SIDE:
        raise PortraitRejected(f"That picture is too large ({width}x{height} pixels); {limit}.")
    try:
        # draft() lets JPEG decode at a reduced scale straight away; thumbnail() finishes the downscale.
        image.draft("RGB", (WORKING_SIDE, WORKING_SIDE))
        image = ImageOps.exif_transpose(image).convert("RGB")
        image.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.LANCZOS)
    except Exception:
        raise PortraitRejected("That picture is damaged or incomplete; send the photo again.") from None
    return image


# mediapipe graphs are not thread-safe: one lock per model, models built once per process.
_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _detector():
    from mediapipe.python.solutions import face_detection  # noqa: PLC0415 - heavy, loaded on first use

    # model 1 ("full range") finds faces from close-ups to a few metres away.
    return face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)


@lru_cache(maxsize=1)
def _mesher():
    from mediapipe.python.solutions import face_mesh  # noqa: PLC0415

    return face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                              min_detection_confidence=0.3)


def detect_faces(rgb: np.ndarray) -> list[tuple[int, int, int, int, float]]:
    """Faces as (x, y, width, height, score) in pixels, largest first."""
    height, width = rgb.shape[:2]
    with _LOCK:
        result = _detector().process(np.ascontiguousarray(rgb))
    faces = []
    for detection in result.detections or []:
        box = detection.location_data.relative_bounding_box
        x, y = int(round(box.xmin * width)), int(round(box.ymin * height))
        w, h = int(round(box.width * width)), int(round(box.height * height))
        faces.append((x, y, w, h, float(detection.score[0])))
    return sorted(faces, key=lambda face: face[2] * face[3], reverse=True)


def mesh_face(rgb: np.ndarray, box: tuple[int, int, int, int] | None = None) -> np.ndarray | None:
    """The 478 face-mesh points (pixels) of the face in box (or the most prominent one), or None.
    The mesh runs on a crop around the box, so a small face in a large photo is meshed at its scale."""
    height, width = rgb.shape[:2]
    left, top, right, bottom = 0, 0, width, height
    if box is not None:
        x, y, w, h = box
        margin = int(max(w, h) * 0.8)
        left, top = max(0, x - margin), max(0, y - margin)
        right, bottom = min(width, x + w + margin), min(height, y + h + margin)
    crop = np.ascontiguousarray(rgb[top:bottom, left:right])
    with _LOCK:
        result = _mesher().process(crop)
    if not result.multi_face_landmarks:
        return None
    points = result.multi_face_landmarks[0].landmark
    crop_h, crop_w = crop.shape[:2]
    xy = np.array([(p.x * crop_w + left, p.y * crop_h + top) for p in points], np.float32)
    return xy


def analyse(data: bytes) -> Portrait:
    """Check a photo and find its presenter's face; PortraitRejected says why it cannot be one."""
    rgb = np.asarray(open_checked(data))
    faces = detect_faces(rgb)
    if not faces:
        raise PortraitRejected(NO_FACE)
    x, y, w, h, _ = faces[0]
    if min(w, h) < MIN_FACE_PIXELS:
        raise PortraitRejected(
            f"The face in that photo is too small ({min(w, h)} pixels across; I need at least {MIN_FACE_PIXELS}); "
            "send a closer portrait.")
    landmarks = mesh_face(rgb, (x, y, w, h))
    if landmarks is None:
        raise PortraitRejected(NO_FACE)
    note = ""
    if len(faces) > 1:
        note = f"I found {len(faces)} faces in that photo and used the largest one."
    return Portrait(image=rgb, landmarks=landmarks, face_box=(x, y, w, h), faces_found=len(faces), note=note)


@lru_cache(maxsize=1)
def _segmenter():
    from mediapipe.python.solutions import selfie_segmentation  # noqa: PLC0415

    return selfie_segmentation.SelfieSegmentation(model_selection=0)


def person_mask(rgb: np.ndarray) -> np.ndarray:
    """Soft foreground mask (float32 0..1) of the person in the photo (selfie segmentation)."""
    with _LOCK:
        mask = _segmenter().process(np.ascontiguousarray(rgb)).segmentation_mask
    return np.clip(mask.astype(np.float32), 0.0, 1.0)

"""Where the presenter stands in the frame, and the frames written to an MP4.

Two layouts: "full" (the presenter fills the frame; a portrait narrower than the frame stands on a
blurred, darkened copy of itself) and "corner" (the presenter, cut out of its photo by selfie
segmentation, in the lower right corner over the scene's picture). Either way only the face's
working region changes from frame to frame, so a frame costs one small warp and one copy.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import StageFailure

FACE_SHARE_FULL = 0.40  # face height (brow to chin) as a share of the frame height
SPRITE_SHARE_CORNER = 0.46  # the cut-out presenter's height as a share of the frame height
CORNER_MAX_WIDTH = 0.45  # ...and at most this share of its width (vertical frames)
# The clip is an intermediate that the assembly encodes again: spend little CPU, keep quality (crf 18).
PRESET = "superfast"


@dataclass
class Placement:
    """A picture at output scale: what the rig animates, and where it goes in the frame."""
    canvas: np.ndarray  # RGB (full) or RGBA (corner) uint8
    landmarks: np.ndarray  # the face mesh in canvas pixels
    x: int  # canvas position in the frame
    y: int


def _scaled(image: np.ndarray, landmarks: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    size = (max(1, int(round(image.shape[1] * scale))), max(1, int(round(image.shape[0] * scale))))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(image, size, interpolation=interpolation), landmarks * scale


def _cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    scale = max(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, (int(np.ceil(image.shape[1] * scale)), int(np.ceil(image.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    top, left = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return resized[top:top + height, left:left + width]


def full_frame(image: np.ndarray, landmarks: np.ndarray, width: int, height: int) -> tuple[np.ndarray, Placement]:
    """The portrait filling the frame around its face; returns (background, placement)."""
    face_height = float(np.linalg.norm(landmarks[152] - landmarks[10]))
    scale = max(height / image.shape[0], FACE_SHARE_FULL * height / face_height)
    scaled, points = _scaled(image, landmarks, scale)
    face_x = float(points[[33, 263, 152, 10], 0].mean())
    face_y = float(points[[10, 152], 1].mean())
    # Face centred across, slightly above the middle; the picture covers the frame where it can.
    x = int(round(width / 2 - face_x))
    y = int(round(height * 0.45 - face_y))
    if scaled.shape[1] >= width:
        x = min(0, max(width - scaled.shape[1], x))
    covering = min(0, max(height - scaled.shape[0], y))
    # ...but not at the price of eyes near the top edge (a photo cropped just above the head): then the
    # backdrop shows above the picture.
    eyes_y = float(points[[33, 263], 1].mean())
    y = max(covering, min(y, int(round(height * 0.33 - eyes_y))))
    # Behind it: the photo itself, blurred past recognition and darkened (colours that match, no second face).
    backdrop = cv2.GaussianBlur(_cover(image, width // 4, height // 4), (0, 0), 12)
    backdrop = (cv2.resize(backdrop, (width, height), interpolation=cv2.INTER_LINEAR) * 0.5).astype(np.uint8)
    return backdrop, Placement(canvas=_feathered(scaled, x, y, width, height), landmarks=points, x=x, y=y)


def _feathered(picture: np.ndarray, x: int, y: int, width: int, height: int) -> np.ndarray:
    """The picture, with its edges that fall inside the frame faded into the backdrop (RGBA); as it is
    (RGB) when it covers the frame."""
    h, w = picture.shape[:2]
    inside = {"left": x > 0, "top": y > 0, "right": x + w < width, "bottom": y + h < height}
    if not any(inside.values()):
        return picture
    ramp = max(2, int(round(height * 0.04)))
    across = np.ones(w, np.float32)
    down = np.ones(h, np.float32)
    fade = np.linspace(0, 1, ramp, dtype=np.float32)
    if inside["left"]:
        across[:ramp] = np.minimum(across[:ramp], fade[:w])
    if inside["right"]:
        across[-ramp:] = np.minimum(across[-ramp:], fade[::-1][-w:])
    if inside["top"]:
        down[:ramp] = np.minimum(down[:ramp], fade[:h])
    if inside["bottom"]:
        down[-ramp:] = np.minimum(down[-ramp:], fade[::-1][-h:])
    alpha = (np.outer(down, across) * 255).astype(np.uint8)
    return np.dstack([picture, alpha])


def corner(image: np.ndarray, landmarks: np.ndarray, mask: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, Placement]:
    """The presenter cut out by its segmentation mask, in the lower right corner of background."""
    height, width = background.shape[:2]
    face_height = float(np.linalg.norm(landmarks[152] - landmarks[10]))
    centre_x = float(landmarks[[33, 263, 152, 10], 0].mean())
    # Head and shoulders: from above the hair to well below the chin, 2.6 face heights wide.
    top = max(0, int(landmarks[10, 1] - 0.75 * face_height))
    bottom = min(image.shape[0], int(landmarks[152, 1] + 1.5 * face_height))
    left = max(0, int(centre_x - 1.3 * face_height))
    right = min(image.shape[1], int(centre_x + 1.3 * face_height))
    alpha = (np.clip((mask[top:bottom, left:right] - 0.15) / 0.7, 0, 1) * 255).astype(np.uint8)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, face_height / 120))
    sprite = np.dstack([image[top:bottom, left:right], alpha])
    scale = min(SPRITE_SHARE_CORNER * height / sprite.shape[0], CORNER_MAX_WIDTH * width / sprite.shape[1])
    sprite, points = _scaled(sprite, landmarks - [left, top], scale)
    margin = int(round(width * 0.03))
    x = width - sprite.shape[1] - margin
    y = height - sprite.shape[0]
    return background.copy(), Placement(canvas=sprite, landmarks=points, x=x, y=y)


def blend(background: np.ndarray, pixels: np.ndarray, premultiplied: bool = False) -> np.ndarray:
    """pixels (RGB, or RGBA) over a background region of the same size; uint8 throughout (cv2's
    saturating arithmetic is several times faster than float numpy here)."""
    if pixels.shape[2] == 3:
        return pixels
    alpha = cv2.cvtColor(pixels[..., 3], cv2.COLOR_GRAY2RGB)
    colour = cv2.cvtColor(pixels, cv2.COLOR_RGBA2RGB)  # contiguous: cv2 arithmetic on strided views is slow
    under = cv2.multiply(background, cv2.bitwise_not(alpha), scale=1 / 255)
    over = colour if premultiplied else cv2.multiply(colour, alpha, scale=1 / 255)
    return cv2.add(over, under)


class FrameComposer:
    """Per frame: the rig's changed region over a frame composed once (background + presenter).
    A rig whose `overlay` is true returns premultiplied pixels drawn over its canvas (the character's
    head over its body); otherwise the pixels replace that region of the canvas (a warped photo)."""

    def __init__(self, background: np.ndarray, placement: Placement, overlay: bool = False):
        self.background = background
        self.placement = placement
        self.overlay = overlay
        self.static = background.copy()
        self._paste(self.static, 0, 0, placement.canvas, background)

    def _paste(self, frame: np.ndarray, x: int, y: int, pixels: np.ndarray, under: np.ndarray,
               premultiplied: bool = False) -> None:
        """pixels at (x, y) of the placement's canvas over `under`, clipped to the frame."""
        fx, fy = self.placement.x + x, self.placement.y + y
        left, top = max(0, -fx), max(0, -fy)
        right = min(pixels.shape[1], frame.shape[1] - fx)
        bottom = min(pixels.shape[0], frame.shape[0] - fy)
        if right <= left or bottom <= top:
            return
        region = (slice(fy + top, fy + bottom), slice(fx + left, fx + right))
        frame[region] = blend(under[region], np.ascontiguousarray(pixels[top:bottom, left:right]), premultiplied)

    def frame(self, x: int, y: int, pixels: np.ndarray) -> np.ndarray:
        frame = self.static.copy()
        if self.overlay:
            self._paste(frame, x, y, pixels, self.static, premultiplied=True)
        else:
            self._paste(frame, x, y, pixels, self.background)
        return frame


def encode(frames: Iterator[np.ndarray], width: int, height: int, fps: int, audio: Path | None, out: Path,
           stage: str = "lipsync", timeout: float = 900) -> None:
    """RGB frames (and the narration) to an H.264/AAC MP4 through ffmpeg's stdin. Frames are sent as
    yuv420p (OpenCV's BT.601 limited-range conversion, as ffmpeg's own): half the bytes, and ffmpeg's
    CPU time for a 720p clip drops by about 40%."""
    if width % 2 or height % 2:
        raise ValueError(f"frame size {width}x{height}: H.264 in yuv420p needs even sides")
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-"]
    if audio is not None:
        command += ["-i", str(audio), "-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "128k"]
    command += ["-c:v", "libx264", "-preset", PRESET, "-crf", "18",
                "-movflags", "+faststart", str(out)]
    try:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise StageFailure(stage, "BACKEND_UNAVAILABLE", "ffmpeg is not installed on the worker.", False) from None
    try:
        assert process.stdin is not None
        for frame in frames:
            process.stdin.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).data)
        process.stdin.close()
        error = process.stderr.read() if process.stderr else b""
        code = process.wait(timeout=timeout)
    except BrokenPipeError:
        code = process.wait(timeout=timeout)
        error = process.stderr.read() if process.stderr else b""
    except BaseException:
        process.kill()
        process.wait()
        raise
    if code != 0:
        raise StageFailure(stage, "INTERNAL", f"ffmpeg could not encode the presenter video (exit {code}): "
                           f"{error.decode('utf-8', 'replace').strip()[-300:]}", True)


"""One presenter clip: a portrait (or the built-in character) speaking a narration, as an MP4."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..errors import StageFailure
from ..runtime import CANCELLED_MESSAGE
from . import LAYOUTS
from .character import TOP_MARGIN, VIEW_H, VIEW_W, CharacterRig
from .compose import CORNER_MAX_WIDTH, SPRITE_SHARE_CORNER, FrameComposer, Placement, corner, encode, full_frame
from .face_rig import FaceRig, Pose
from .portrait import Portrait, person_mask
from .speech import FaceTracks, Narration, face_tracks, read_wav


@dataclass(frozen=True)
class PresenterClip:
    frames: int
    seconds: float
    fps: int
    width: int
    height: int
    layout: str
    presenter: str  # "photo" or "built-in character"
    timings: dict[str, float]


def fit_picture(picture: np.ndarray, width: int, height: int) -> np.ndarray:
    """The scene's picture covering the frame (RGB uint8)."""
    scale = max(width / picture.shape[1], height / picture.shape[0])
    size = (int(np.ceil(picture.shape[1] * scale)), int(np.ceil(picture.shape[0] * scale)))
    resized = cv2.resize(picture, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    top, left = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[top:top + height, left:left + width, :3])


def pose_at(tracks: FaceTracks, index: int) -> Pose:
    return Pose(open=float(tracks.open[index]), spread=float(tracks.spread[index]), round=float(tracks.round[index]),
                teeth=float(tracks.teeth[index]), blink=float(tracks.blink[index]),
                head_dx=float(tracks.head_dx[index]), head_dy=float(tracks.head_dy[index]),
                head_roll=float(tracks.head_roll[index]))


def build_scene(portrait: Portrait | None, width: int, height: int, layout: str,
                picture: np.ndarray | None) -> tuple[FaceRig | CharacterRig, FrameComposer]:
    """The rig that animates the presenter and the composer that puts it in the frame."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown presenter layout {layout!r}; one of {', '.join(LAYOUTS)}")
    background = fit_picture(picture, width, height) if picture is not None else None
    if portrait is None:
        figure = VIEW_H - TOP_MARGIN  # the art's top is empty: the figure is scaled to the frame, not the page
        if layout == "full":
            scale = min(height / figure, width / VIEW_W)
        else:
            scale = min(SPRITE_SHARE_CORNER * height / figure, CORNER_MAX_WIDTH * width / VIEW_W)
        character = CharacterRig(scale)
        canvas_w, canvas_h = character.canvas.shape[1], character.canvas.shape[0]
        if layout == "full":
            background = character.backdrop(width, height) if background is None else background
            x, y = (width - canvas_w) // 2, height - canvas_h
        else:
            background = background if background is not None else character.backdrop(width, height)
            x, y = width - canvas_w - int(round(width * 0.01)), height - canvas_h
        placement = Placement(character.canvas, np.zeros((0, 2)), x, y)
        return character, FrameComposer(background, placement, overlay=True)
    if layout == "full":
        background, placement = full_frame(portrait.image, portrait.landmarks, width, height)
    else:
        if background is None:
            background = np.full((height, width, 3), (30, 40, 60), np.uint8)
        background, placement = corner(portrait.image, portrait.landmarks, person_mask(portrait.image), background)
    return FaceRig(placement.canvas, placement.landmarks), FrameComposer(background, placement)


def render_clip(narration_wav: Path, out: Path, *, portrait: Portrait | None, width: int, height: int, fps: int,
                layout: str = "full", picture: np.ndarray | None = None, seconds: float | None = None,
                report: Callable[[float, str], None] = lambda percent, message: None,
                cancelled: Callable[[], bool] = lambda: False, tracks: FaceTracks | None = None) -> PresenterClip:
    """Render the presenter speaking narration_wav into out (H.264/AAC MP4, width x height at fps).
    seconds: the scene's length when longer than the narration (the presenter listens, blinks, sways)."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    narration = read_wav(narration_wav.read_bytes())
    if seconds and seconds > narration.seconds:
        pad = np.zeros(int((seconds - narration.seconds) * narration.rate) + 1, np.float32)
        narration = Narration(np.concatenate([narration.samples, pad]), narration.rate)
    frames = max(1, int(round(narration.seconds * fps)))
    tracks = tracks or face_tracks(narration, fps, frames)
    timings["speech"] = time.monotonic() - started

    started = time.monotonic()
    rig, composer = build_scene(portrait, width, height, layout, picture)
    timings["setup"] = time.monotonic() - started

    def frame_stream():
        step = max(1, frames // 20)
        for index in range(frames):
            if index % step == 0:
                report(100 * index / frames, f"Presenter: frame {index + 1} of {frames}")
                if cancelled():  # the encoder is stopped and the partial file left in the job's scratch folder
                    raise StageFailure("lipsync", "CANCELLED", CANCELLED_MESSAGE, False)
            yield composer.frame(*rig.render(pose_at(tracks, index)))

    started = time.monotonic()
    encode(frame_stream(), width, height, fps, narration_wav, out)
    timings["frames"] = time.monotonic() - started
    return PresenterClip(frames=frames, seconds=frames / fps, fps=fps, width=width, height=height, layout=layout,
                         presenter="photo" if portrait is not None else "built-in character",
                         timings={name: round(value, 3) for name, value in timings.items()})

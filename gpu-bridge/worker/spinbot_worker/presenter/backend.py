"""The lip-sync stage on CPU: the presenter (a stored portrait or the built-in character) speaking a
scene's narration, with the same request and output (an MP4 with the narration) as the GPU workflow."""

from __future__ import annotations

import importlib.util
import shutil
from functools import lru_cache

import numpy as np

from ..backends.base import LipsyncBackend, LipsyncRequest, StageContext
from ..errors import StageFailure
from ..models import model_info
from ..storage import Storage
from . import LAYOUTS
from .portrait import Portrait, PortraitRejected, analyse, open_checked


def _licence() -> str:
    """Licences of what runs, from the model registry (setup/models.json)."""
    parts = []
    for model_id in ("mediapipe", "pocketsphinx", "ffmpeg"):
        try:
            parts.append(f"{model_id}: {model_info(model_id)['licence']}")
        except (KeyError, OSError):
            parts.append(f"{model_id}: see setup/models.json")
    return "MIT (this code, the built-in presenter's art: CC0-1.0); " + "; ".join(parts)


@lru_cache(maxsize=1)
def _opencv_loads() -> str | None:
    """OpenCV is installed but may lack its system libraries (libGL, glib) on a slim image."""
    try:
        import cv2  # noqa: F401, PLC0415
    except ImportError as error:
        return f"OpenCV cannot load ({error}); install the system packages libgl1 and libglib2.0-0"
    return None


def store_portrait(storage: Storage, key: str, data: bytes) -> Portrait:
    """Check a photo sent as the presenter and store it (downscaled PNG) under key.
    Raises PortraitRejected with a sentence for the user; nothing is stored then."""
    portrait = analyse(data)
    storage.put_bytes(key, portrait.png())
    return portrait


class CpuPresenter(LipsyncBackend):
    stage = "lipsync"
    id = "presenter-cpu"
    name = "Presenter: mediapipe face mesh + pocketsphinx phones (CPU)"
    device = "cpu"
    licence = _licence()

    def available(self) -> str | None:
        missing = [name for name in ("mediapipe", "pocketsphinx", "cv2") if importlib.util.find_spec(name) is None]
        if missing:
            return f"the Python packages {', '.join(missing)} are not installed"
        if shutil.which("ffmpeg") is None:
            return "ffmpeg is not installed"
        return _opencv_loads()

    def run(self, request: LipsyncRequest, ctx: StageContext) -> None:
        from .render import render_clip  # noqa: PLC0415 - OpenCV and SciPy load only when a presenter is rendered

        if request.layout not in LAYOUTS:
            raise StageFailure("lipsync", "BAD_INPUT", f"Unknown presenter layout {request.layout!r}; "
                               f"use one of {', '.join(LAYOUTS)}.", False)
        portrait = None
        if request.image_key:
            with ctx.storage.open(request.image_key) as stream:
                data = stream.read()
            try:
                portrait = analyse(data)
            except PortraitRejected as rejected:
                raise StageFailure("lipsync", "BAD_INPUT", str(rejected), False) from None
        picture = None
        if request.background_key:
            with ctx.storage.open(request.background_key) as stream:
                picture = np.asarray(open_checked(stream.read()))
        audio = ctx.workdir / "presenter-narration.wav"
        ctx.storage.get_to_file(request.audio_key, audio)
        out = ctx.workdir / "presenter.mp4"
        clip = render_clip(audio, out, portrait=portrait, width=request.width, height=request.height,
                           fps=request.fps, layout=request.layout, picture=picture, seconds=request.seconds,
                           report=ctx.report, cancelled=ctx.cancelled)
        ctx.storage.put_file(request.out_key, out)
        return clip


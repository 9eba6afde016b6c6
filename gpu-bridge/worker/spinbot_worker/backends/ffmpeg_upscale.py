"""upscale on the CPU: ffmpeg lanczos to exactly the target size (cover, then centre crop)."""

from __future__ import annotations

import shutil

from PIL import Image

from ..tools import run_tool
from .base import StageContext, UpscaleBackend, UpscaleRequest

TIMEOUT_S = 120


class FfmpegUpscale(UpscaleBackend):
    stage = "upscale"
    id = "ffmpeg-lanczos"
    name = "ffmpeg lanczos (CPU)"
    device = "cpu"
    licence = "LGPL-2.1-or-later (ffmpeg)"

    def available(self) -> str | None:
        return None if shutil.which("ffmpeg") else "ffmpeg is not installed"

    def run(self, request: UpscaleRequest, ctx: StageContext) -> None:
        source = ctx.workdir / "upscale-in.png"
        ctx.storage.get_to_file(request.in_key, source)
        with Image.open(source) as image:
            size = image.size
        if size == (request.width, request.height):
            ctx.storage.put_file(request.out_key, source)  # already the right size
            return
        target = ctx.workdir / "upscale-out.png"
        w, h = request.width, request.height
        scale = f"scale={w}:{h}:flags=lanczos:force_original_aspect_ratio=increase,crop={w}:{h}"
        run_tool(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), "-vf", scale, "-frames:v", "1", str(target)],
                 stage="upscale", timeout=TIMEOUT_S)
        ctx.storage.put_file(request.out_key, target)

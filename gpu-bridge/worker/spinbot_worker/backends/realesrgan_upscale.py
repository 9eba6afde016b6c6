"""upscale on the CPU: Real-ESRGAN through ncnn, with the model files from the model cache.

A model per use: realesr-animevideov3 (x2/x3/x4, a compact net: ~1.6 s for 640x360 -> 1280x720 on
2 cores) for the clip's frames, which are drawn pictures; realesrgan-x4plus (a large net, ~25x slower)
only for photos, and only when a photo is smaller than the place it fills. The image is cut into tiles
with a margin, so memory stays bounded whatever the size. When the model cannot load (not fetched,
ncnn missing, a corrupt file), the stage still runs with Pillow's lanczos and the backend's name says so.
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image

from .. import models
from ..errors import StageFailure
from .base import StageContext, UpscaleBackend, UpscaleRequest

MODEL_ID = "realesrgan"
FRAME_MODELS = {2: "realesr-animevideov3-x2", 3: "realesr-animevideov3-x3", 4: "realesr-animevideov3-x4"}
STILL_MODEL = "realesrgan-x4plus"
# A 640x360 picture is one tile: 2.9 CPU s, 632 MB peak RSS; tiles of 320 px cost 4.6 CPU s and 429 MB.
TILE = 640  # pixels of input per tile: larger inputs are cut up, so memory stays bounded
TILE_MARGIN = 12  # context around each tile, cut off again after upscaling: no seams
# x4plus took 11 CPU s (two threads) for 128x72 here: only a thumbnail-sized photo is worth it;
# a larger one is resized with lanczos (a photo already has its detail).
MAX_STILL_PIXELS = 128 * 128
THREADS = 2


class ModelUnavailable(Exception):
    """The Real-ESRGAN model cannot be loaded here; the message says why, for the result line."""


@dataclass
class Upscaler:
    """One loaded ncnn network and its scale factor. run() is serialised: an ncnn Net is not re-entrant."""

    model: str
    scale: int
    net: object
    lock: threading.Lock

    def run(self, image: Image.Image) -> Image.Image:
        import numpy as np  # noqa: PLC0415 - only where the model runs

        import ncnn  # noqa: PLC0415

        source = np.asarray(image.convert("RGB"))
        height, width = source.shape[:2]
        s = self.scale
        out = np.empty((height * s, width * s, 3), dtype=np.uint8)
        with self.lock:
            for y0 in range(0, height, TILE):
                for x0 in range(0, width, TILE):
                    x1, y1 = min(x0 + TILE, width), min(y0 + TILE, height)
                    # The tile with its margin (clipped at the image's edges).
                    mx0, my0 = max(0, x0 - TILE_MARGIN), max(0, y0 - TILE_MARGIN)
                    mx1, my1 = min(width, x1 + TILE_MARGIN), min(height, y1 + TILE_MARGIN)
                    tile = np.ascontiguousarray(source[my0:my1, mx0:mx1])
                    mat = ncnn.Mat.from_pixels(tile, ncnn.Mat.PixelType.PIXEL_RGB, mx1 - mx0, my1 - my0)
                    mat.substract_mean_normalize([0.0, 0.0, 0.0], [1 / 255.0] * 3)
                    extractor = self.net.create_extractor()
                    extractor.input("data", mat)
                    status, result = extractor.extract("output")
                    if status != 0:
                        raise StageFailure("upscale", "INTERNAL", f"Real-ESRGAN ({self.model}) failed on a tile (ncnn status {status}).", True)
                    pixels = np.asarray(result).transpose(1, 2, 0)
                    inner = pixels[(y0 - my0) * s:(y1 - my0) * s, (x0 - mx0) * s:(x1 - mx0) * s]
                    out[y0 * s:y1 * s, x0 * s:x1 * s] = (np.clip(inner, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        return Image.fromarray(out, "RGB")


_load_lock = threading.Lock()


@lru_cache(maxsize=8)
def _load(model: str, scale: int) -> Upscaler:
    try:
        import ncnn  # noqa: PLC0415
    except ImportError as error:
        raise ModelUnavailable(f"the ncnn package is not installed ({error})") from None
    if not models.model_ready(MODEL_ID):
        raise ModelUnavailable(f'model "{MODEL_ID}" is not fetched (run: node setup/models.mjs fetch {MODEL_ID})')
    param, weights = models.model_path(MODEL_ID, f"{model}.param"), models.model_path(MODEL_ID, f"{model}.bin")
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = THREADS
    if net.load_param(str(param)) != 0 or net.load_model(str(weights)) != 0:
        raise ModelUnavailable(f"{model} could not be loaded from {param.parent}")
    return Upscaler(model, scale, net, threading.Lock())


def load_upscaler(model: str, scale: int) -> Upscaler:
    """The network, loaded once per process (a failure is not cached: a later fetch is picked up)."""
    with _load_lock:
        return _load(model, scale)


def frame_scale(source: tuple[int, int], target: tuple[int, int]) -> int:
    """The animevideov3 factor for covering target: 1 (no model needed), 2, 3 or 4."""
    ratio = max(target[0] / source[0], target[1] / source[1])
    if ratio <= 1:
        return 1
    return min(4, max(2, math.ceil(ratio - 1e-6)))


def cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scaled (lanczos) to cover width x height, centre-cropped to exactly that size."""
    if image.size == (width, height):
        return image
    scale = max(width / image.width, height / image.height)
    size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    resized = image.resize(size, Image.Resampling.LANCZOS)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return resized.crop((left, top, left + width, top + height))


def upscale_frame(image: Image.Image, width: int, height: int) -> Image.Image:
    """A drawn picture to exactly width x height: animevideov3 when it must grow, then lanczos to size."""
    scale = frame_scale(image.size, (width, height))
    if scale > 1:
        image = load_upscaler(FRAME_MODELS[scale], scale).run(image)
    return cover(image.convert("RGB"), width, height)


_enlarged: dict[str, Image.Image] = {}  # photo digest -> x4plus output: every scene shows the same photo


def enlarge_photo(photo: Image.Image, width: int, height: int) -> Image.Image:
    """A photo that must cover width x height: x4plus when it is smaller and small enough to be
    worth the model's time (else, or when the model cannot load, lanczos), then cropped to size."""
    photo = photo.convert("RGB")
    needs_model = (photo.width < width or photo.height < height) and photo.width * photo.height <= MAX_STILL_PIXELS
    if needs_model:
        digest = hashlib.sha256(photo.tobytes()).hexdigest() + f"{photo.size}"
        if digest not in _enlarged:
            try:
                enlarged = load_upscaler(STILL_MODEL, 4).run(photo)
            except ModelUnavailable:
                enlarged = photo  # a photo in a picture: lanczos is an acceptable stand-in
            _enlarged.clear()  # one photo per job: keep only the latest
            _enlarged[digest] = enlarged
        photo = _enlarged[digest]
    return cover(photo, width, height)


def model_licence() -> str:
    try:
        return models.model_info(MODEL_ID)["licence"]
    except (KeyError, OSError, ValueError):
        return "BSD-3-Clause"


class RealEsrganUpscale(UpscaleBackend):
    stage = "upscale"
    id = "realesrgan"
    device = "cpu"
    licence = f"{model_licence()} (Real-ESRGAN weights); ncnn BSD-3-Clause"
    priority = 10  # 'auto' prefers it to plain lanczos on the CPU

    MODEL_NAME = "Real-ESRGAN animevideov3 (CPU)"

    @property
    def name(self) -> str:  # type: ignore[override] - says when the model could not load
        reason = self.unavailable_reason()
        return self.MODEL_NAME if reason is None else f"lanczos (CPU; Real-ESRGAN unavailable: {reason})"

    def unavailable_reason(self) -> str | None:
        try:
            load_upscaler(FRAME_MODELS[2], 2)
            return None
        except ModelUnavailable as error:
            return str(error)

    def run(self, request: UpscaleRequest, ctx: StageContext) -> None:
        with ctx.storage.open(request.in_key) as stream, Image.open(stream) as picture:
            picture.load()
            try:
                result = upscale_frame(picture, request.width, request.height)
            except ModelUnavailable:
                result = cover(picture.convert("RGB"), request.width, request.height)
        buffer = io.BytesIO()
        result.save(buffer, format="PNG", compress_level=3)
        ctx.storage.put_bytes(request.out_key, buffer.getvalue())

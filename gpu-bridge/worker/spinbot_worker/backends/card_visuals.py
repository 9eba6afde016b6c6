"""visuals on the CPU: a title card per scene.

A background derived from (visualPrompt, seed, scene) - a rotated two-colour gradient with soft
blurred shapes - so every scene looks different and a rerun draws the same picture, the scene's
on-screen text in large type on a translucent panel, and a small "scene N/M" mark.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
import random
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .base import StageBackend, StageContext, VisualsRequest

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
BOLD_FONT = FONT_DIR / "DejaVuSans-Bold.ttf"
REGULAR_FONT = FONT_DIR / "DejaVuSans.ttf"


@lru_cache(maxsize=32)
def font(size: int, bold: bool = True) -> ImageFont.ImageFont:
    path = BOLD_FONT if bold else REGULAR_FONT
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        return ImageFont.load_default(size)  # Pillow's built-in font, scalable since Pillow 10.1


def _rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return int(r * 255), int(g * 255), int(b * 255)


def background(prompt: str, seed: int, scene: int, width: int, height: int) -> Image.Image:
    digest = hashlib.sha256(f"{seed}\x00{scene}\x00{prompt}".encode()).digest()
    rng = random.Random(digest)
    hue = rng.random()
    dark = _rgb(hue, rng.uniform(0.55, 0.85), rng.uniform(0.18, 0.35))
    light = _rgb(hue + rng.uniform(0.08, 0.3), rng.uniform(0.45, 0.8), rng.uniform(0.65, 0.9))

    # Gradient at a random angle: rotate a square larger than the frame, crop its middle.
    side = math.ceil(math.hypot(width, height))
    mask = Image.linear_gradient("L").resize((side, side), Image.Resampling.BILINEAR)
    mask = mask.rotate(rng.uniform(0, 360), resample=Image.Resampling.BICUBIC)
    left, top = (side - width) // 2, (side - height) // 2
    mask = mask.crop((left, top, left + width, top + height))
    image = Image.composite(Image.new("RGB", (width, height), light), Image.new("RGB", (width, height), dark), mask)

    # Soft shapes, drawn small and blurred (cheap), then scaled up.
    small = (width // 4, height // 4)
    layer = Image.new("RGBA", small, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for _ in range(rng.randint(5, 9)):
        r = rng.uniform(0.08, 0.3) * small[0]
        cx, cy = rng.uniform(0, small[0]), rng.uniform(0, small[1])
        colour = _rgb(hue + rng.uniform(-0.25, 0.45), rng.uniform(0.3, 0.9), rng.uniform(0.5, 1.0))
        box = (cx - r, cy - r * rng.uniform(0.6, 1.4), cx + r, cy + r * rng.uniform(0.6, 1.4))
        draw.ellipse(box, fill=colour + (rng.randint(70, 150),))
    layer = layer.filter(ImageFilter.GaussianBlur(rng.uniform(4, 9))).resize((width, height), Image.Resampling.BICUBIC)
    return Image.alpha_composite(image.convert("RGBA"), layer)


def _wrap(text: str, face: ImageFont.ImageFont, max_width: float) -> list[str] | None:
    """Lines of text within max_width, or None when a single word does not fit."""
    lines: list[str] = []
    for word in text.split():
        if face.getlength(word) > max_width:
            return None
        if lines and face.getlength(f"{lines[-1]} {word}") <= max_width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def draw_text_panel(image: Image.Image, text: str) -> None:
    width, height = image.size
    max_width, max_lines = width * 0.78, 3
    for size in range(int(height * 0.12), 23, -4):  # largest type that fits in three lines
        face = font(size)
        lines = _wrap(text, face, max_width)
        if lines and len(lines) <= max_lines:
            break
    else:  # very long words: smallest type, cut to three lines
        size = 24
        face, lines = font(size), (_wrap(text, font(size), max_width) or [text])[:max_lines]
    line_height = int(size * 1.25)
    block_w = max(face.getlength(line) for line in lines)
    block_h = line_height * len(lines)
    pad = int(size * 0.6)
    x0, y0 = (width - block_w) / 2, (height - block_h) / 2
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    ImageDraw.Draw(overlay).rounded_rectangle(
        (x0 - pad, y0 - pad, x0 + block_w + pad, y0 + block_h + pad), radius=pad, fill=(0, 0, 0, 120))
    image.alpha_composite(overlay)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        x = (width - face.getlength(line)) / 2
        y = y0 + i * line_height
        draw.text((x + 3, y + 3), line, font=face, fill=(0, 0, 0, 160))  # shadow
        draw.text((x, y), line, font=face, fill=(255, 255, 255, 255))


def title_card(request: VisualsRequest) -> Image.Image:
    image = background(request.prompt, request.seed, request.scene, request.width, request.height)
    if request.text.strip():
        draw_text_panel(image, request.text.strip())
    mark = f"scene {request.scene}/{request.scene_count}"
    face = font(max(16, request.height // 26), bold=False)
    margin = request.height // 24
    x = request.width - margin - face.getlength(mark)
    y = request.height - margin - face.size
    ImageDraw.Draw(image).text((x, y), mark, font=face, fill=(255, 255, 255, 210))
    return image.convert("RGB")


class TitleCardVisuals(StageBackend):
    stage = "visuals"
    id = "title-card"
    name = "title card (CPU)"
    device = "cpu"
    licence = "MIT (this code); DejaVu fonts: Bitstream Vera licence"

    def run(self, request: VisualsRequest, ctx: StageContext) -> None:
        buffer = io.BytesIO()
        title_card(request).save(buffer, format="PNG", optimize=False, compress_level=3)
        ctx.storage.put_bytes(request.out_key, buffer.getvalue())

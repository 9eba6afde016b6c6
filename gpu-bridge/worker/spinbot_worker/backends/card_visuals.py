"""visuals on the CPU: an illustrated scene per scene, drawn from its visual prompt.

Each picture is built in layers: a gradient sky in a palette of its own, scenery (hills, waves, rays,
rings or a dot pattern), soft light, the emoji that match the prompt's words (OpenMoji, see icons.py)
with shadows, the user's reference photo in a frame when there is one, and the scene's text on a panel
placed where the drawing leaves room. The layout rotates with the scene number and the palette's hue
moves by the golden ratio, so two scenes of one video never share a layout and colours; a rerun
draws the same picture. Assembly adds the motion (a slow pan).

When Real-ESRGAN is loadable the picture is drawn at half the frame size and the upscale stage brings it
to full size with animevideov3 x2 (see BENCHMARKS.md for what that costs and gives); otherwise it is
drawn at full size, so a lanczos upscale never has to enlarge it.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
import random
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from . import icons
from .base import StageContext, VisualsBackend, VisualsRequest
from .realesrgan_upscale import ModelUnavailable, enlarge_photo, load_upscaler, FRAME_MODELS

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
BOLD_FONT = FONT_DIR / "DejaVuSans-Bold.ttf"
REGULAR_FONT = FONT_DIR / "DejaVuSans.ttf"
LAYOUTS = ("hero-left", "spotlight", "row", "hero-right", "badge")
GOLDEN = 0.618034


@lru_cache(maxsize=32)
def font(size: int, bold: bool = True) -> ImageFont.ImageFont:
    path = BOLD_FONT if bold else REGULAR_FONT
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        return ImageFont.load_default(size)  # Pillow's built-in font, scalable since Pillow 10.1


def _rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1))
    return int(r * 255), int(g * 255), int(b * 255)


def _rng(request: VisualsRequest, salt: str = "") -> random.Random:
    digest = hashlib.sha256(f"{request.seed}\x00{request.scene}\x00{request.prompt}\x00{salt}".encode()).digest()
    return random.Random(digest)


def layout_for(seed: int, scene: int) -> str:
    """Consecutive scenes never share a layout; the seed picks where the rotation starts."""
    return LAYOUTS[(seed + scene - 1) % len(LAYOUTS)]


def palette(seed: int, scene: int) -> dict[str, tuple[int, int, int]]:
    hue = (random.Random(seed).random() + GOLDEN * scene) % 1.0
    return {
        "dark": _rgb(hue, 0.7, 0.28), "light": _rgb(hue + 0.12, 0.55, 0.85), "accent": _rgb(hue + 0.5, 0.75, 0.95),
        "soft": _rgb(hue + 0.08, 0.35, 0.97), "deep": _rgb(hue - 0.05, 0.8, 0.45), "hue": (int(hue * 1000), 0, 0),
    }


def gradient(size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int], angle: float) -> Image.Image:
    width, height = size
    side = math.ceil(math.hypot(width, height))
    mask = Image.linear_gradient("L").resize((side, side), Image.Resampling.BILINEAR)
    mask = mask.rotate(angle, resample=Image.Resampling.BICUBIC)
    left, top_edge = (side - width) // 2, (side - height) // 2
    mask = mask.crop((left, top_edge, left + width, top_edge + height))
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask).convert("RGBA")


def scenery(image: Image.Image, layout: str, colours: dict, rng: random.Random) -> None:
    """Shapes behind the subject, different per layout."""
    width, height = image.size
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if layout in ("hero-left", "hero-right"):  # rolling hills, two tones
        for depth, (colour, alpha, base) in enumerate(((colours["deep"], 150, 0.62), (colours["dark"], 220, 0.76))):
            phase, freq = rng.uniform(0, 6.3), rng.uniform(1.2, 2.4)
            points = [(x, height * (base + 0.06 * math.sin(phase + freq * x / width * math.pi * 2)))
                      for x in range(0, width + 8, 8)]
            draw.polygon(points + [(width, height), (0, height)], fill=colour + (alpha,))
    elif layout == "spotlight":  # a sunburst from the subject
        cx, cy = width / 2, height * 0.54
        rays = 18
        for i in range(rays):
            if i % 2:
                continue
            a0, a1 = 2 * math.pi * i / rays, 2 * math.pi * (i + 1) / rays
            r = width * 1.2
            draw.polygon([(cx, cy), (cx + r * math.cos(a0), cy + r * math.sin(a0)), (cx + r * math.cos(a1), cy + r * math.sin(a1))],
                         fill=colours["soft"] + (40,))
    elif layout == "row":  # a floor the icons stand on, and a dot pattern above
        step = max(12, width // 24)
        for y in range(step // 2, int(height * 0.5), step):
            for x in range(step // 2 + (y // step % 2) * step // 2, width, step):
                draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colours["soft"] + (60,))
        draw.rounded_rectangle((width * 0.06, height * 0.74, width * 0.94, height * 0.8), radius=height // 60,
                               fill=colours["dark"] + (170,))
    elif layout == "badge":  # concentric rings around the subject
        cx, cy = width * 0.3, height * 0.45
        for i, r in enumerate(range(int(height * 0.55), int(height * 0.15), -int(height * 0.09))):
            colour = colours["accent"] if i % 2 else colours["soft"]
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour + (35 + 12 * i,))
    image.alpha_composite(layer)

    # Soft light: a few blurred blobs, drawn small (cheap) and scaled up.
    small = (max(1, width // 4), max(1, height // 4))
    glow = Image.new("RGBA", small, (0, 0, 0, 0))
    glow_draw = ImageDraw.Draw(glow)
    for _ in range(rng.randint(3, 6)):
        r = rng.uniform(0.06, 0.18) * small[0]
        cx, cy = rng.uniform(0, small[0]), rng.uniform(0, small[1] * 0.6)
        glow_draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colours["soft"] + (rng.randint(40, 90),))
    glow = glow.filter(ImageFilter.GaussianBlur(6)).resize(image.size, Image.Resampling.BICUBIC)
    image.alpha_composite(glow)


def paste_with_shadow(image: Image.Image, sprite: Image.Image, centre: tuple[float, float], angle: float = 0) -> None:
    if angle:
        sprite = sprite.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    x, y = int(centre[0] - sprite.width / 2), int(centre[1] - sprite.height / 2)
    offset = max(2, sprite.width // 30)
    shadow = Image.new("RGBA", sprite.size, (0, 0, 0, 0))
    shadow.putalpha(sprite.getchannel("A").point(lambda a: a * 0.35))
    shadow = shadow.filter(ImageFilter.GaussianBlur(max(1, sprite.width // 40)))
    image.alpha_composite(shadow, (x + offset, y + offset * 2))
    image.alpha_composite(sprite, (x, y))


def framed_photo(photo: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The photo covering size, in a white rounded frame (a print on the scene)."""
    border = max(3, size[0] // 28)
    inner = enlarge_photo(photo, size[0] - 2 * border, size[1] - 2 * border)
    card = Image.new("RGBA", size, (0, 0, 0, 0))
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, size[0] - 1, size[1] - 1), radius=border * 2, fill=255)
    card.paste(Image.new("RGBA", size, (250, 250, 248, 255)), (0, 0), mask)
    card.alpha_composite(inner.convert("RGBA"), (border, border))
    return card


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


def draw_text_panel(image: Image.Image, text: str, box: tuple[float, float, float, float] | None = None) -> None:
    """The text in the largest type that fits box (default: the middle of the frame) in three lines, on a panel."""
    width, height = image.size
    bx0, by0, bx1, by1 = box or (width * 0.11, height * 0.2, width * 0.89, height * 0.8)
    max_width, max_lines = bx1 - bx0, 3
    smallest = max(12, height // 30)
    for size in range(int(min(height * 0.1, (by1 - by0) / 3.6)), smallest - 1, -2):  # largest type that fits
        face = font(size)
        lines = _wrap(text, face, max_width)
        if lines and len(lines) <= max_lines:
            break
    else:  # very long words: smallest type, cut to three lines
        size = smallest
        face, lines = font(size), (_wrap(text, font(size), max_width) or [text])[:max_lines]
    line_height = int(size * 1.25)
    block_w = max(face.getlength(line) for line in lines)
    block_h = line_height * len(lines)
    pad = int(size * 0.55)
    cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
    x0, y0 = cx - block_w / 2, cy - block_h / 2
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    ImageDraw.Draw(overlay).rounded_rectangle(
        (x0 - pad, y0 - pad, x0 + block_w + pad, y0 + block_h + pad), radius=pad, fill=(0, 0, 0, 135))
    image.alpha_composite(overlay)
    draw = ImageDraw.Draw(image)
    shadow = max(1, size // 16)
    for i, line in enumerate(lines):
        x = cx - face.getlength(line) / 2
        y = y0 + i * line_height
        draw.text((x + shadow, y + shadow), line, font=face, fill=(0, 0, 0, 160))
        draw.text((x, y), line, font=face, fill=(255, 255, 255, 255))


# Where the subject, the two companions and the text go, as shares of the frame:
# (main centre x, y, main size as share of height), companions [(x, y, size)], text box.
# The bottom fifth stays free of text and small icons: subtitles are burned in there.
PLACES = {
    "hero-left": ((0.27, 0.45, 0.56), [(0.09, 0.18, 0.17), (0.45, 0.7, 0.15)], (0.52, 0.12, 0.95, 0.66)),
    "spotlight": ((0.5, 0.54, 0.46), [(0.17, 0.52, 0.2), (0.83, 0.52, 0.2)], (0.12, 0.03, 0.88, 0.27)),
    "row": ((0.5, 0.56, 0.36), [(0.2, 0.58, 0.28), (0.8, 0.58, 0.28)], (0.1, 0.03, 0.9, 0.33)),
    "hero-right": ((0.73, 0.45, 0.56), [(0.91, 0.16, 0.16), (0.55, 0.7, 0.15)], (0.05, 0.12, 0.48, 0.66)),
    "badge": ((0.3, 0.45, 0.42), [(0.08, 0.15, 0.14), (0.53, 0.14, 0.13)], (0.56, 0.24, 0.95, 0.72)),
}


def illustrated_scene(request: VisualsRequest, size: tuple[int, int], photo: Image.Image | None = None) -> Image.Image:
    width, height = size
    rng = _rng(request)
    layout = layout_for(request.seed, request.scene)
    colours = palette(request.seed, request.scene)
    image = gradient(size, colours["light"], colours["dark"], rng.uniform(-35, 35) + (180 if layout == "badge" else 0))
    scenery(image, layout, colours, rng)

    chosen = icons.match(request.prompt) or icons.generic(3, request.scene + request.seed)
    # Scenes with similar prompts: the subject rotates among the best matches.
    if len(chosen) > 1:
        first = (request.scene - 1) % min(len(chosen), 3)
        chosen = chosen[first:] + chosen[:first]
    (mx, my, msize), companions, text_box = PLACES[layout]
    main_px = int(height * msize)
    if photo is not None:
        frame = (int(main_px * 1.25), int(main_px * 0.95))
        paste_with_shadow(image, framed_photo(photo, frame), (width * mx, height * my), angle=rng.uniform(-5, 5))
        subjects = chosen[:2]
        spots = companions
    else:
        subjects = chosen[:3]
        spots = [(mx, my, msize), *companions]
    for icon, (sx, sy, ssize) in zip(subjects, spots):
        sprite = icons.render(icon.code, max(16, int(height * ssize)))
        tilt = 0 if ssize == msize else rng.uniform(-12, 12)
        paste_with_shadow(image, sprite, (width * sx, height * sy), angle=tilt)

    text = request.text.strip()
    if text:
        bx0, by0, bx1, by1 = text_box
        draw_text_panel(image, text, (width * bx0, height * by0, width * bx1, height * by1))
    mark = f"{request.scene}/{request.scene_count}"
    face = font(max(10, height // 30), bold=False)
    margin = height // 28
    ImageDraw.Draw(image).text((width - margin - face.getlength(mark), height - margin - face.size), mark,
                               font=face, fill=(255, 255, 255, 190))
    return image.convert("RGB")


def draw_size(width: int, height: int) -> tuple[int, int]:
    """Half the frame when the upscale model can bring it to full size, else the frame itself."""
    try:
        load_upscaler(FRAME_MODELS[2], 2)
    except ModelUnavailable:
        return width, height
    return max(1, width // 2), max(1, height // 2)


class IllustratedVisuals(VisualsBackend):
    stage = "visuals"
    id = "title-card"  # the configuration slug and metrics label of the CPU pictures, kept stable
    name = "illustrated (CPU)"
    device = "cpu"
    licence = f"MIT (this code); emoji: {icons.licence()}; DejaVu fonts: Bitstream Vera licence"

    def available(self) -> str | None:
        return None  # without OpenMoji the scenes keep their scenery and text, with no emoji

    def run(self, request: VisualsRequest, ctx: StageContext) -> None:
        photo = None
        if request.reference_image_key:
            with ctx.storage.open(request.reference_image_key) as stream, Image.open(stream) as opened:
                photo = ImageOps.exif_transpose(opened).convert("RGB")
        picture = illustrated_scene(request, draw_size(request.width, request.height), photo)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG", optimize=False, compress_level=3)
        ctx.storage.put_bytes(request.out_key, buffer.getvalue())

"""The built-in presenter (assets/presenter/presenter.svg) speaking: its layers rendered once per size
with resvg, then per frame the mouth shapes blended by the viseme tracks, the lids lowered for blinks
and the head turned about the neck, all on the head's own small region.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .face_rig import Pose
from .speech import VISEMES

SVG_PATH = Path(__file__).resolve().parents[4] / "assets" / "presenter" / "presenter.svg"
SVG_NS = "http://www.w3.org/2000/svg"
VIEW_W, VIEW_H = 600, 720
TOP_MARGIN = 170  # SVG units above the hair: empty
HEAD_BOX = (130, 180, 470, 610)  # x0, y0, x1, y1 in SVG units: the head with room to turn
MOUTH_BOX = (240, 462, 360, 572)
MOUTH_LINE_Y = 512
NECK = (300, 590)  # the head turns about this point
FACE_HEIGHT = 345  # brow to chin, SVG units (head motion is given in face heights)
SHAPE_NAMES = tuple(VISEMES)
SHAPE_TARGETS = np.array([VISEMES[name] for name in SHAPE_NAMES], np.float32)


def _layer_svg(source: str, keep: set[str]) -> str:
    ET.register_namespace("", SVG_NS)
    root = ET.fromstring(source)
    for group in root.findall(f"{{{SVG_NS}}}g"):
        if group.get("id") not in keep:
            group.set("display", "none")
    return ET.tostring(root, encoding="unicode")


@lru_cache(maxsize=8)
def layers(scale: float) -> dict[str, np.ndarray]:
    """Every layer as premultiplied float32 RGBA at scale (pixels per SVG unit)."""
    import resvg_py  # noqa: PLC0415

    source = SVG_PATH.read_text(encoding="utf-8")
    width, height = int(round(VIEW_W * scale)), int(round(VIEW_H * scale))
    names = ["backdrop", "body", "head", "lids"] + [f"mouth-{name}" for name in SHAPE_NAMES]
    rendered = {}
    for name in names:
        png = resvg_py.svg_to_bytes(svg_string=_layer_svg(source, {name}), width=width, height=height)
        rgba = np.asarray(Image.open(io.BytesIO(bytes(png))).convert("RGBA"), np.float32) / 255
        rgba[..., :3] *= rgba[..., 3:4]
        rendered[name] = rgba
    return rendered


def _over(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    return top + bottom * (1 - top[..., 3:4])


def _to_u8(premultiplied: np.ndarray) -> np.ndarray:
    return (np.clip(premultiplied, 0, 1) * 255 + 0.5).astype(np.uint8)


class CharacterRig:
    """Like FaceRig, but its canvas is the body alone and render() returns the head as an overlay
    (premultiplied RGBA) drawn on top of it; only the head's region changes between frames."""

    overlay = True

    def __init__(self, scale: float):
        self.scale = scale
        self.layers = layers(scale)
        body = self.layers["body"]
        alpha = body[..., 3:4]
        self.canvas = _to_u8(np.concatenate([body[..., :3] / np.maximum(alpha, 1e-6), alpha], axis=2))
        self.face_height = FACE_HEIGHT * scale
        x0, y0, x1, y1 = (int(round(v * scale)) for v in HEAD_BOX)
        self.x0, self.y0, self.x1, self.y1 = x0, y0, x1, y1
        self._head = _to_u8(self.layers["head"][y0:y1, x0:x1])
        mx0, my0, mx1, my1 = (int(round(v * scale)) for v in MOUTH_BOX)
        self._mouth_box = (slice(my0 - y0, my1 - y0), slice(mx0 - x0, mx1 - x0))
        self._mouths = np.stack([self.layers[f"mouth-{name}"][my0:my1, mx0:mx1] for name in SHAPE_NAMES])
        self._mouth_line = (MOUTH_LINE_Y - MOUTH_BOX[1]) * scale
        lids = self.layers["lids"][y0:y1, x0:x1]
        rows, cols = np.nonzero(lids[..., 3] > 0)
        self._lid_box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
        self._lids = lids[self._lid_box]
        self._neck = (NECK[0] * scale - x0, NECK[1] * scale - y0)

    def mouth_weights(self, pose: Pose) -> np.ndarray:
        """How much each mouth layer shows: a soft nearest-shape choice in (open, spread, round, teeth)."""
        wanted = np.array([pose.open, pose.spread, pose.round, pose.teeth], np.float32)
        distance = (((SHAPE_TARGETS - wanted) * [1.0, 0.6, 0.8, 0.3]) ** 2).sum(axis=1)
        weights = np.exp(-(distance - distance.min()) / 0.01)
        weights[weights < 0.02] = 0
        return weights / weights.sum()

    def _mouth(self, pose: Pose) -> np.ndarray:
        weights = self.mouth_weights(pose)
        shown = np.nonzero(weights)[0]
        mouth = self._mouths[shown[0]] * weights[shown[0]]
        for index in shown[1:]:
            mouth += self._mouths[index] * weights[index]
        # Open exactly as far as the track says: stretch the blended shape about the lip line.
        drawn_open = float(weights @ SHAPE_TARGETS[:, 0])
        stretch = float(np.clip((pose.open + 0.06) / (drawn_open + 0.06), 0.6, 1.6))
        if abs(stretch - 1) > 0.02:
            h, w = mouth.shape[:2]
            matrix = np.array([[1, 0, 0], [0, stretch, self._mouth_line * (1 - stretch)]], np.float32)
            mouth = cv2.warpAffine(mouth, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
        return mouth

    def _lowered_lids(self, closure: float) -> np.ndarray:
        """The closed-lid layer squeezed up towards its top edge: a lid coming down, not a fade."""
        if closure >= 0.98:
            return self._lids
        h, w = self._lids.shape[:2]
        matrix = np.array([[1, 0, 0], [0, max(closure, 0.05), 0]], np.float32)
        return cv2.warpAffine(self._lids, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))

    def render(self, pose: Pose) -> tuple[int, int, np.ndarray]:
        """(x, y, head) for this pose: the head as premultiplied RGBA over the body canvas."""
        head = self._head.copy()
        region = head[self._mouth_box].astype(np.float32) / 255
        head[self._mouth_box] = _to_u8(_over(self._mouth(pose), region))
        if pose.blink > 0.02:
            region = head[self._lid_box].astype(np.float32) / 255
            head[self._lid_box] = _to_u8(_over(self._lowered_lids(min(1.0, pose.blink * 1.15)), region))
        matrix = cv2.getRotationMatrix2D(self._neck, -pose.head_roll, 1.0)
        matrix[:, 2] += (pose.head_dx * self.face_height, pose.head_dy * self.face_height)
        head = cv2.warpAffine(head, matrix, (head.shape[1], head.shape[0]), flags=cv2.INTER_LINEAR,
                              borderValue=(0, 0, 0, 0))
        return self.x0, self.y0, head

    def backdrop(self, width: int, height: int) -> np.ndarray:
        """The studio backdrop layer, covering a width x height frame (RGB uint8)."""
        layer = self.layers["backdrop"]
        rgb = (np.clip(layer[..., :3], 0, 1) * 255).astype(np.uint8)
        scale = max(width / rgb.shape[1], height / rgb.shape[0])
        resized = cv2.resize(rgb, (int(np.ceil(rgb.shape[1] * scale)), int(np.ceil(rgb.shape[0] * scale))),
                             interpolation=cv2.INTER_LINEAR)
        top, left = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
        return resized[top:top + height, left:left + width].copy()

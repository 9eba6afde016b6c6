"""A photo's face moved along its face mesh: jaw and lips, blinks and small head motion.

Every mesh point (plus a ring around the head that moves with it and a fixed ring at the edge of the
working region) gets a displacement per frame, built from a few fixed bases (jaw opening, lip
spread, lip rounding, eyelid closure) and the head's pose. The displacement is spread over the
region piecewise-linearly on a Delaunay triangulation of the points (a precomputed sparse
barycentric matrix: one multiplication per frame), inverted by fixed-point iteration, and applied
with one cv2.remap: a piecewise-affine warp of the face at the face's own scale, never a pasted
mouth. Where the lips part, the mouth's inside (dark cavity, upper teeth) is drawn between the moved
inner lip contours.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import sparse
from scipy.spatial import Delaunay

LIPS_OUTER_UPPER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291]
LIPS_OUTER_LOWER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291]
LIPS_INNER_UPPER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LIPS_INNER_LOWER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
# Eyelids, matched upper/lower points from the outer to the inner corner, and the crease above.
UPPER_LIDS = [246, 161, 160, 159, 158, 157, 173, 466, 388, 387, 386, 385, 384, 398]
LOWER_LIDS = [7, 163, 144, 145, 153, 154, 155, 249, 390, 373, 374, 380, 381, 382]
LID_CREASES = [247, 30, 29, 27, 28, 56, 190, 467, 260, 259, 257, 258, 286, 414]
IRISES = list(range(468, 478))
EYE_CORNERS = [33, 133, 362, 263]

LID_WARP = 0.3  # share of a blink done by moving the upper lid's skin
FIELD_STEP = 4  # pixels between the points where the warp field is computed exactly
MAX_LIP_GAP = 0.085  # lips' widest parting, as a fraction of the face height (brow to chin)


@dataclass(frozen=True)
class Pose:
    """One frame's face state (see speech.FaceTracks)."""
    open: float = 0.0
    spread: float = 0.0
    round: float = 0.0
    teeth: float = 0.0
    blink: float = 0.0
    head_dx: float = 0.0
    head_dy: float = 0.0
    head_roll: float = 0.0


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _rounded(line: np.ndarray, passes: int = 2) -> np.ndarray:
    """An open polyline with its corners cut (Chaikin), ends kept."""
    for _ in range(passes):
        inner = np.empty((2 * (len(line) - 1), 2), np.float32)
        inner[0::2] = 0.75 * line[:-1] + 0.25 * line[1:]
        inner[1::2] = 0.25 * line[:-1] + 0.75 * line[1:]
        line = np.concatenate([line[:1], inner, line[-1:]])
    return line


class FaceRig:
    def __init__(self, canvas: np.ndarray, landmarks: np.ndarray):
        """canvas: the presenter's picture at output scale (RGB or RGBA uint8); landmarks: its 478 mesh points."""
        self.canvas = canvas
        self.points = landmarks.astype(np.float32)
        pts = self.points
        self.face_height = float(np.linalg.norm(pts[152] - pts[10]))
        ex = pts[263] - pts[33]
        self.ex = ex / np.linalg.norm(ex)
        self.ey = np.array([-self.ex[1], self.ex[0]], np.float32)  # image 'down' in the face's frame
        self.mouth = (pts[13] + pts[14]) / 2
        self.pivot = pts[152] + 0.12 * self.face_height * self.ey  # the neck, below the chin
        u = (pts - self.mouth) @ self.ex / self.face_height
        v = (pts - self.mouth) @ self.ey / self.face_height
        self._bases = self._build_bases(u, v)
        self._lid_colours = [self._lid_colour(eye) for eye in (slice(0, 7), slice(7, 14))]

        # Outer rings: one around the head that moves with it, one at the working region's edge that stays.
        centre = pts[FACE_OVAL].mean(axis=0)
        oval = pts[FACE_OVAL] - centre
        above = (oval @ self.ey) < 0  # forehead side: hair and hats reach further
        scale = np.where(above, 1.45, 1.22)[:, None]
        head_ring = centre + oval * scale
        h, w = canvas.shape[:2]
        margin = 0.18 * self.face_height
        x0, y0 = head_ring.min(axis=0) - margin
        x1, y1 = head_ring.max(axis=0) + margin
        self.x0, self.y0 = int(max(0, np.floor(x0))), int(max(0, np.floor(y0)))
        self.x1, self.y1 = int(min(w, np.ceil(x1))), int(min(h, np.ceil(y1)))
        head_ring = np.clip(head_ring, [self.x0 + 2, self.y0 + 2], [self.x1 - 3, self.y1 - 3])
        edge = self._edge_points(10)
        self.moving = len(pts) + len(head_ring)
        all_points = np.concatenate([pts, head_ring, edge]).astype(np.float64)

        # Barycentric weights of a coarse grid over the working region (every FIELD_STEP pixels; the
        # field is piecewise linear and smooth, so it is interpolated back to full resolution cheaply).
        roi_w, roi_h = self.x1 - self.x0, self.y1 - self.y0
        # Coarse points sit at cell centres so that cv2.resize (which maps pixel centres) lines up with them.
        centre = (FIELD_STEP - 1) / 2
        cols = np.arange(0, roi_w + FIELD_STEP - 1, FIELD_STEP, dtype=np.float64) + centre
        rows_ = np.arange(0, roi_h + FIELD_STEP - 1, FIELD_STEP, dtype=np.float64) + centre
        gx, gy = np.meshgrid(np.minimum(cols, roi_w - 1) + self.x0, np.minimum(rows_, roi_h - 1) + self.y0)
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
        triangulation = Delaunay(all_points)
        simplex = triangulation.find_simplex(grid)
        inside = simplex >= 0
        simplex = np.where(inside, simplex, 0)
        transform = triangulation.transform[simplex]
        partial = np.einsum("nij,nj->ni", transform[:, :2], grid - transform[:, 2])
        bary = np.concatenate([partial, 1 - partial.sum(axis=1, keepdims=True)], axis=1) * inside[:, None]
        rows = np.repeat(np.arange(len(grid)), 3)
        self._weights = sparse.csr_matrix((bary.ravel(), (rows, triangulation.simplices[simplex].ravel())),
                                          shape=(len(grid), len(all_points)))
        self._vertex_count = len(all_points)
        self._rest = all_points.astype(np.float32)
        self._coarse_grid = np.stack([gx, gy], axis=2).astype(np.float32)
        self._coarse_shape = gx.shape
        full_x, full_y = np.meshgrid(np.arange(roi_w, dtype=np.float32), np.arange(roi_h, dtype=np.float32))
        self._grid = np.stack([full_x + self.x0, full_y + self.y0], axis=2)
        self._shape = (roi_h, roi_w)
        self._origin = np.array([self.x0, self.y0], np.float32)

    def _lid_colour(self, eye: slice) -> np.ndarray:
        """The median colour of the skin between an eye's upper lid and its crease."""
        polygon = np.concatenate([self.points[UPPER_LIDS][eye], self.points[LID_CREASES][eye][::-1]])
        mask = np.zeros(self.canvas.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 255)
        skin = self.canvas[..., :3][mask > 0]
        return np.median(skin, axis=0).astype(np.float32) if len(skin) else np.array([150, 110, 90], np.float32)

    def _edge_points(self, per_side: int) -> np.ndarray:
        xs = np.linspace(self.x0, self.x1 - 1, per_side)
        ys = np.linspace(self.y0, self.y1 - 1, per_side)
        return np.concatenate([
            np.stack([xs, np.full_like(xs, self.y0)], 1), np.stack([xs, np.full_like(xs, self.y1 - 1)], 1),
            np.stack([np.full_like(ys, self.x0), ys], 1), np.stack([np.full_like(ys, self.x1 - 1), ys], 1)])

    def _build_bases(self, u: np.ndarray, v: np.ndarray) -> dict[str, np.ndarray]:
        """Per-point displacements (pixels, face frame: columns along ex, ey) for each unit of control."""
        pts, count, H = self.points, len(self.points), self.face_height
        inner_u = u[LIPS_INNER_UPPER]
        inner_mid_v = (v[LIPS_INNER_UPPER] + v[LIPS_INNER_LOWER]) / 2
        order = np.argsort(inner_u)
        mouth_line = np.interp(u, inner_u[order], inner_mid_v[order])
        half_width = max(abs(u[61]), abs(u[291]), 1e-3)

        outer = np.concatenate([pts[LIPS_OUTER_UPPER], pts[LIPS_OUTER_LOWER][::-1]]).astype(np.float32)
        in_lips = np.array([cv2.pointPolygonTest(outer, (float(x), float(y)), True) >= -1.0 for x, y in pts])
        lower_lip = in_lips & (v > mouth_line)
        lower_lip[LIPS_INNER_LOWER + LIPS_OUTER_LOWER] = True
        upper_lip = in_lips & ~lower_lip
        upper_lip[LIPS_INNER_UPPER + LIPS_OUTER_UPPER] = True
        lower_lip[LIPS_INNER_UPPER] = False
        corner = np.clip((np.abs(u) / half_width - 0.7) / 0.3, 0, 1)  # 1 at the corners

        # Jaw: the lower lip and everything below the mouth drop; less towards the ears.
        lateral = np.clip(1 - (np.abs(u) / 0.45) ** 2, 0, 1)
        below = _smoothstep((v - mouth_line) / 0.09) * lateral
        # Along the lips the parting is rounded: full in the middle, 0.4 at the corners (which drop with the jaw).
        middle = np.clip(1 - (u / half_width) ** 2, 0, 1)
        jaw_down = np.where(lower_lip, 0.4 + 0.6 * middle, below)
        jaw_down = np.where(upper_lip, 0.4 * (1 - middle) - 0.14 * middle, jaw_down)
        jaw_down[[61, 291, 78, 308]] = 0.4
        jaw = np.zeros((count, 2), np.float32)
        jaw[:, 1] = jaw_down * MAX_LIP_GAP * H / 1.14

        # Spread and rounding: lips (and the skin close to them) move along the mouth's width.
        near = np.exp(-((u ** 2 + (v - mouth_line) ** 2) / (0.14 ** 2)))
        lips = (upper_lip | lower_lip).astype(np.float32)
        carry = np.maximum(lips, near * 0.8)
        along = np.clip(u / half_width, -1.3, 1.3)
        spread = np.zeros((count, 2), np.float32)
        spread[:, 0] = along * carry * 0.16 * half_width * H
        spread[:, 1] = -0.01 * H * lips * (1 - corner)  # spread lips thin slightly
        rounded = np.zeros((count, 2), np.float32)
        rounded[:, 0] = -along * carry * 0.26 * half_width * H
        lip_centre = (1 - np.clip(np.abs(u) / half_width, 0, 1))
        rounded[:, 1] = (np.where(upper_lip, -1.0, 0.0) + np.where(lower_lip, 1.0, 0.0)) * lip_centre * 0.012 * H

        # Blink: the lids' skin is pulled a little (upper down, lower up); the rest of the closure is
        # painted (see _draw_lids), since stretching the lid over the eye drags lashes and glasses with it.
        blink = np.zeros((count, 2), np.float32)
        gap = pts[LOWER_LIDS] - pts[UPPER_LIDS]
        blink_xy = np.zeros((count, 2), np.float32)
        blink_xy[UPPER_LIDS] = gap * LID_WARP
        blink_xy[LOWER_LIDS] = -gap * 0.08
        blink_xy[LID_CREASES] = gap * 0.1
        blink[:, 0], blink[:, 1] = blink_xy @ self.ex, blink_xy @ self.ey

        # A photo with parted lips: close them at rest (the opening then comes only from the narration).
        rest = np.zeros((count, 2), np.float32)
        parted = (pts[LIPS_INNER_LOWER] - pts[LIPS_INNER_UPPER]) @ self.ey
        if parted.max() > 0.01 * H:
            rest[LIPS_INNER_UPPER, 1] = np.maximum(parted, 0) * 0.5
            rest[LIPS_INNER_LOWER, 1] = -np.maximum(parted, 0) * 0.5
        return {"jaw": jaw, "spread": spread, "round": rounded, "blink": blink, "rest": rest}

    def displacement(self, pose: Pose) -> np.ndarray:
        """(points + rings, 2) image-space displacement of every rig point for this pose."""
        b = self._bases
        local = (b["rest"] + pose.open * b["jaw"] + pose.spread * b["spread"] + pose.round * b["round"]
                 + pose.blink * b["blink"])
        local_xy = np.outer(local[:, 0], self.ex) + np.outer(local[:, 1], self.ey)
        moved = np.zeros((self._vertex_count, 2), np.float32)
        face_points = len(self.points)
        moved[:face_points] = local_xy
        angle = np.deg2rad(pose.head_roll)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
        shift = np.array([pose.head_dx, pose.head_dy], np.float32) * self.face_height
        base = self._rest
        head = base[: self.moving] + moved[: self.moving]
        moved[: self.moving] = (head - self.pivot) @ rotation.T + self.pivot + shift - base[: self.moving]
        return moved

    def landmarks_for(self, pose: Pose) -> np.ndarray:
        """Where the 478 mesh points are drawn for this pose (tests compare the output frames with it)."""
        return self.points + self.displacement(pose)[: len(self.points)]

    def render(self, pose: Pose) -> tuple[int, int, np.ndarray]:
        """(x, y, pixels) of the working region for this pose; the canvas outside it does not change."""
        moved = self.displacement(pose)
        field = (self._weights @ moved).astype(np.float32).reshape(*self._coarse_shape, 2)
        # Backward map: the source point q - d(q - d(...)) lands on q (fixed-point iteration, coarse grid).
        displacement = field
        for _ in range(2):
            sample = (self._coarse_grid - displacement - self._origin - (FIELD_STEP - 1) / 2) / FIELD_STEP
            displacement = cv2.remap(field, sample[..., 0], sample[..., 1], cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE)
        rows, cols = self._coarse_shape
        full = cv2.resize(displacement, (cols * FIELD_STEP, rows * FIELD_STEP), interpolation=cv2.INTER_LINEAR)
        full = full[: self._shape[0], : self._shape[1]]
        sample = self._grid - full
        pixels = cv2.remap(self.canvas, sample[..., 0], sample[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        drawn = self.points + moved[: len(self.points)]
        self._draw_mouth(pixels, drawn, pose)
        if pose.blink > 0.05:
            self._draw_lids(pixels, drawn, pose.blink)
        return self.x0, self.y0, pixels

    def _draw_mouth(self, pixels: np.ndarray, points: np.ndarray, pose: Pose) -> None:
        upper, lower = points[LIPS_INNER_UPPER], points[LIPS_INNER_LOWER]
        gap = float(((lower - upper) @ self.ey).max())
        if gap < 0.6:
            return
        upper, lower = _rounded(upper), _rounded(lower)  # the mesh's 11 points a lip make a faceted outline
        offset = np.array([self.x0, self.y0], np.float32)
        polygon = np.concatenate([upper, lower[::-1]]) - offset
        x, y, w, h = cv2.boundingRect(polygon.astype(np.float32))
        x, y = max(0, x - 2), max(0, y - 2)
        w, h = min(pixels.shape[1] - x, w + 4), min(pixels.shape[0] - y, h + 4)
        if w <= 0 or h <= 0:
            return
        local = ((polygon - [x, y]) * 4).astype(np.int32)  # 2 bits of sub-pixel precision
        cavity = np.zeros((h, w), np.uint8)
        cv2.fillPoly(cavity, [local], 255, cv2.LINE_AA, shift=2)
        cavity = cv2.GaussianBlur(cavity, (3, 3), 0.7)  # lips meet the mouth's inside softly, not along a cut
        alpha = cavity.astype(np.float32)[..., None] / 255
        channels = pixels.shape[2]
        colour = np.empty((h, w, 3), np.float32)
        colour[:] = (38, 14, 16)
        # Tongue: a warmer shade low in the mouth when it is open.
        rows = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        colour += (np.clip(rows - 0.45, 0, 1) * np.array([180, 70, 70], np.float32)) * min(1.0, pose.open * 1.5)
        # Upper teeth show in the top part of the opening, less of it in a narrow gap (they sit behind the lip).
        teeth_depth = min(0.02 * self.face_height, gap * 0.35) * (0.35 + 0.65 * pose.teeth)
        if teeth_depth >= 0.8:
            across = np.linspace(-1, 1, len(upper), dtype=np.float32)[:, None]
            taper = np.clip(1.15 - across ** 2, 0, 1)  # teeth recede towards the corners
            teeth_polygon = np.concatenate([upper, (upper + teeth_depth * taper * self.ey)[::-1]]) - offset - [x, y]
            teeth = np.zeros((h, w), np.uint8)
            cv2.fillPoly(teeth, [(teeth_polygon * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
            teeth_alpha = teeth.astype(np.float32)[..., None] / 255 * alpha * 0.85
            colour = colour * (1 - teeth_alpha) + np.array([196, 186, 170], np.float32) * teeth_alpha
        region = pixels[y:y + h, x:x + w, :3].astype(np.float32)
        pixels[y:y + h, x:x + w, :3] = (region * (1 - alpha) + colour * alpha).astype(np.uint8)
        if channels == 4:
            pixels[y:y + h, x:x + w, 3] = np.maximum(pixels[y:y + h, x:x + w, 3], cavity)

    def _draw_lids(self, pixels: np.ndarray, points: np.ndarray, closure: float) -> None:
        """Upper lids lowered over the eyes: skin-coloured, with a dark lash line at the edge."""
        upper, lower = points[UPPER_LIDS], points[LOWER_LIDS]
        # The lid's edge, from where the warp left it down to (nearly) the lower lid.
        remaining = (closure - closure * LID_WARP) / (1 - closure * LID_WARP + 1e-6)
        edge = upper + (lower - upper) * min(0.97, remaining)
        offset = np.array([self.x0, self.y0], np.float32)
        for eye, colour in zip((slice(0, 7), slice(7, 14)), self._lid_colours):
            polygon = np.concatenate([upper[eye] - self.ey * 0.8, edge[eye][::-1]]) - offset
            x, y, w, h = cv2.boundingRect(polygon.astype(np.float32))
            x, y = max(0, x - 2), max(0, y - 2)
            w, h = min(pixels.shape[1] - x, w + 4), min(pixels.shape[0] - y, h + 4)
            if w <= 0 or h <= 0:
                continue
            lid = np.zeros((h, w), np.uint8)
            cv2.fillPoly(lid, [((polygon - [x, y]) * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
            lash = np.zeros((h, w), np.uint8)
            thickness = max(1, int(round(self.face_height / 160)))
            cv2.polylines(lash, [((edge[eye] - offset - [x, y]) * 4).astype(np.int32)], False, 255, thickness,
                          cv2.LINE_AA, shift=2)
            lid_alpha = lid.astype(np.float32)[..., None] / 255
            lash_alpha = lash.astype(np.float32)[..., None] / 255 * min(1.0, closure * 1.5) * 0.8
            region = pixels[y:y + h, x:x + w, :3].astype(np.float32)
            region = region * (1 - lid_alpha) + colour * 0.93 * lid_alpha  # lids are a shade darker
            region = region * (1 - lash_alpha) + np.array([40, 28, 26], np.float32) * lash_alpha
            pixels[y:y + h, x:x + w, :3] = region.astype(np.uint8)

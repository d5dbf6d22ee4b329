"""The canvas (DESIGN §6): an image and its LIP part mask drawn with the same polygons through
one body-to-pixel transform, fabric patterns laid in body coordinates, and the LIP labels of the
body's parts."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from replication.data.truth import LIP
from replication.synthetic.garments import Fabric
from replication.synthetic.palette import RGB


# ==============================================================================================
# Label sets
# ==============================================================================================

# side = +1 is the person's left, drawn on the image's right.
ARM_LABEL = {+1: LIP["left_arm"], -1: LIP["right_arm"]}
LEG_LABEL = {+1: LIP["left_leg"], -1: LIP["right_leg"]}
SHOE_LABEL = {+1: LIP["left_shoe"], -1: LIP["right_shoe"]}
# LIP has no class for the neck or the bare trunk: annotators fold the neck into the face and
# leave trunk skin as background. Bags and other props are background too.
NECK_LABEL = LIP["face"]
TRUNK_SKIN_LABEL = LIP["background"]


# ==============================================================================================
# The canvas: the image and its part mask, drawn with the same polygons
# ==============================================================================================

class Canvas:
    """An RGB image and its LIP mask, drawn through one body-to-pixel transform."""

    def __init__(self, w: int, h: int, matrix: np.ndarray, background: Image.Image,
                 px_per_head: float, ss: int = 1):
        self.w, self.h = w, h
        self.m = matrix                   # 2x3, body -> canvas pixels
        self.px = px_per_head
        self.ss = ss                      # supersampling factor of this canvas
        self.img = background
        self.mask = Image.new("L", (w, h), 0)
        self.draw = ImageDraw.Draw(self.img)
        self.mdraw = ImageDraw.Draw(self.mask)

    def to_px(self, pts: np.ndarray) -> list[tuple[float, float]]:
        q = np.asarray(pts, dtype=float).reshape(-1, 2) @ self.m[:, :2].T + self.m[:, 2]
        return [(float(x), float(y)) for x, y in q]

    def width(self, heads: float) -> int:
        """A line width in pixels for a width in head heights (at least one pixel)."""
        return max(1, int(round(heads * self.px)))

    def poly(self, pts: np.ndarray, fill: RGB, label: int | None,
             outline: RGB | None = None, width: float = 0.0) -> None:
        """A filled polygon on the image and, unless label is None, on the mask."""
        xy = self.to_px(pts)
        if len(xy) < 3:
            return
        self.draw.polygon(xy, fill=fill)
        if outline is not None:
            self.draw.line(xy + [xy[0]], fill=outline, width=self.width(width), joint="curve")
        if label is not None:
            self.mdraw.polygon(xy, fill=label)

    def line(self, pts: np.ndarray, fill: RGB, width: float) -> None:
        """A line on the image only (seams, outlines, features)."""
        self.draw.line(self.to_px(pts), fill=fill, width=self.width(width), joint="curve")

    def grid(self, x0: int, y0: int, x1: int, y1: int, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Body coordinates of the pixels of a box, every step-th (patterns move with the body)."""
        inv = np.linalg.inv(np.vstack([self.m, [0, 0, 1]]))[:2].astype(np.float32)
        xx = np.arange(x0, x1, step, dtype=np.float32)[None, :]
        yy = np.arange(y0, y1, step, dtype=np.float32)[:, None]
        return (inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2], inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2])

    def fabric(self, polys: Sequence[np.ndarray], fabric: Fabric, label: int) -> None:
        """Fill polygons with a fabric: solid directly, patterns through an alpha layer."""
        if fabric.texture == "solid":
            for p in polys:
                self.poly(p, fabric.base, label)
            return
        alpha = Image.new("L", (self.w, self.h), 0)
        adraw = ImageDraw.Draw(alpha)
        lo, hi = np.array([np.inf, np.inf]), np.array([-np.inf, -np.inf])
        for p in polys:
            xy = self.to_px(p)
            adraw.polygon(xy, fill=255)
            self.mdraw.polygon(xy, fill=label)
            lo, hi = np.minimum(lo, np.min(xy, axis=0)), np.maximum(hi, np.max(xy, axis=0))
        if not polys:
            return
        x0, y0 = max(int(lo[0]) - 1, 0), max(int(lo[1]) - 1, 0)
        x1, y1 = min(int(hi[0]) + 2, self.w), min(int(hi[1]) + 2, self.h)
        if x1 <= x0 or y1 <= y0:
            return
        # the pattern is computed once per output pixel (every ss-th canvas pixel) and scaled
        # up: a finer pattern would be averaged away by the reduction anyway
        sel = _pattern(fabric, *self.grid(x0, y0, x1, y1, self.ss))
        patch = Image.fromarray(sel.view(np.uint8), "L")
        if self.ss > 1:
            patch = patch.resize((x1 - x0, y1 - y0), Image.NEAREST)
        patch = patch.convert("P")
        patch.putpalette(list(fabric.base) + list(fabric.second))
        box = (x0, y0, x1, y1)
        self.img.paste(patch.convert("RGB"), box, alpha.crop(box))


def _pattern(f: Fabric, bx: np.ndarray, by: np.ndarray) -> np.ndarray:
    """Where a pattern puts its second colour (bool), laid in body coordinates: stripes,
    checks, dots or a small print."""
    c, s = math.cos(f.angle), math.sin(f.angle)
    u = (bx * c + by * s) / f.period
    w = (-bx * s + by * c) / f.period
    if f.texture == "stripes":
        sel = (u - np.floor(u)) < 0.45
    elif f.texture == "checks":
        sel = ((np.floor(u) + np.floor(w)) % 2) == 0
    elif f.texture == "dots":
        fu, fw = u - np.floor(u) - 0.5, w - np.floor(w) - 0.5
        sel = fu * fu + fw * fw < 0.07
    else:  # print: irregular blossoms where two wobbling waves peak together
        sel = np.sin(u * 2.1 + 1.3 * np.sin(w * 1.7)) * np.sin(w * 2.3 + 1.1 * np.sin(u * 1.3)) > 0.55
    return np.ascontiguousarray(sel)

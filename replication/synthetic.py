"""The embedded synthetic data set, rendered in the FashionAI layout (DESIGN §6; layout §3).

No copy of FashionAI may ship with the project, so this module draws its own: garments built
from parameters (neckline cut, collar, neck band, lapel, sleeve end, hem and pant ends), either
lying alone on a backdrop (a *flat-lay*) or worn by a drawn figure with head, arms, legs and feet
(*on-model*). It follows DESIGN §6's rendering guide:

- **Body.** A figure on an artists' canon of 7.4-8.1 heads (:data:`CANON_Y`,
  :data:`HALF_WIDTH`, :data:`LIMB_LENGTH`), varied in height, width, arm and leg angles, skin,
  hair, position and scale, and sometimes cut off by the frame (:func:`make_figure`).
- **Lengths on landmarks.** A sleeve ends at a fraction of the arm (:data:`SLEEVE_END`), coat
  and skirt hems at a height between hip, knee, calf, ankle and floor (:data:`COAT_HEM`,
  :data:`SKIRT_HEM`), pants at a fraction of the leg (:data:`PANT_END`). A flat-lay is the same
  garment without the figure, framed on its own outline, so its length can only be judged
  against its own width: the reason the paper separates the two domains.
- **Design details** are small shapes at the neck (:func:`neckline_edge`, :func:`draw_collar`,
  :func:`draw_neck_band`, :func:`draw_lapels`) with thin outlines and slight shade changes: they
  survive at 128-256 px and are mostly lost at 32 px.
- **Invisible** (value 0 of every task): the attribute's region is out of frame, covered (a
  scarf, hair, a bag, an arm behind the back, folded sleeves) or absent (:data:`INVISIBLE_MODES`).
- **Nuisance:** colours, textures (solid, stripes, dots, checks, prints), backdrops (studio
  gradient, floor, blurred clutter), directional light and cast shadow, sensor noise, JPEG
  quality 75-95, aspect ratio 3:4 to 1:1, small rotations.
- **``m`` rows.** Every value has a continuous shape or length parameter with a range
  (:data:`DESIGN_PARAM`, :data:`LENGTH_PARAM`); values whose ranges touch are neighbours. A row
  rendered close to such a border (probability :data:`AMBIGUOUS_P`) marks the neighbour ``m``;
  the ``y`` stays the rendered value. About 3 % of rows get an ``m``, as in the real data.

Besides the FashionAI layout (``Annotations/label.csv``, ``Images/<task>/<name>.jpg``) every image
gets the truth the real data lacks: ``Truth/truth.csv`` (``image,flat,mask``) and a part mask PNG
in the LIP label set (:data:`LIP`), so that the flat/on-model screening of paper §3.2 can be
scored against truth.

Determinism: each image's random generators derive only from ``(seed, task, index)``, so the same
arguments give byte-identical files for any number of worker processes (same NumPy, Pillow and
zlib versions).

All geometry is in *body coordinates*: head heights, x to the person's left (the image's right,
since the figure faces the camera), y down from the crown.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .tasks import TASKS, Task

__all__ = [
    "LIP", "ON_MODEL_LABELS", "TRUTH_CSV", "MASK_DIR", "TruthError",
    "generate", "read_truth", "render_image", "sample_scene", "image_name",
]

LABEL_CSV = "Annotations/label.csv"
TRUTH_CSV = "Truth/truth.csv"
MASK_DIR = "Truth/masks"
PARAMS_JSON = "Truth/synthetic.json"
FORMAT_VERSION = 1
"""Bump whenever the renderer's output changes for the same arguments."""

RGB = tuple[int, int, int]
Box = tuple[float, float, float, float]

# ==============================================================================================
# Label sets
# ==============================================================================================

LIP: dict[str, int] = {
    "background": 0, "hat": 1, "hair": 2, "glove": 3, "sunglasses": 4, "upper_clothes": 5,
    "dress": 6, "coat": 7, "socks": 8, "pants": 9, "jumpsuits": 10, "scarf": 11, "skirt": 12,
    "face": 13, "left_arm": 14, "right_arm": 15, "left_leg": 16, "right_leg": 17,
    "left_shoe": 18, "right_shoe": 19,
}
"""The LIP human-parsing label set (what JPPNet predicts, paper §3.2)."""

ON_MODEL_LABELS: tuple[int, ...] = (2, 13, 14, 15, 16, 17, 18, 19)
"""Body-part labels whose presence makes an image on-model (paper §3.2, stage 1: head, face,
arms, legs, feet; LIP's label for the head is hair)."""

# side = +1 is the person's left, drawn on the image's right.
ARM_LABEL = {+1: LIP["left_arm"], -1: LIP["right_arm"]}
LEG_LABEL = {+1: LIP["left_leg"], -1: LIP["right_leg"]}
SHOE_LABEL = {+1: LIP["left_shoe"], -1: LIP["right_shoe"]}
# LIP has no class for the neck or the bare trunk: annotators fold the neck into the face and
# leave trunk skin as background. Bags and other props are background too.
NECK_LABEL = LIP["face"]
TRUNK_SKIN_LABEL = LIP["background"]

# ==============================================================================================
# The body (DESIGN §6: real proportions, landmarks)
# ==============================================================================================

CANON_Y: dict[str, float] = {
    "crown": 0.0, "eyes": 0.5, "chin": 1.0, "neck_base": 1.32, "shoulder": 1.5,
    "armpit": 2.0, "bust": 2.15, "waist": 2.95, "hip": 3.6, "crotch": 4.0, "mid_thigh": 4.85,
    "knee": 5.75, "calf": 6.6, "ankle": 7.6, "floor": 8.0,
}
"""Landmark heights in head heights from the crown, for an 8-head figure (artists' canon).
A figure ``T`` heads tall scales everything below the chin by ``(T - 1) / 7``."""

HALF_WIDTH: dict[str, float] = {
    "neck": 0.19, "shoulder": 0.95, "armpit": 0.74, "bust": 0.76, "waist": 0.58,
    "hip": 0.84, "crotch": 0.82,
}
"""Half-widths of the trunk (front view) in head heights, for width factor 1."""

LIMB_LENGTH: dict[str, float] = {"upper_arm": 1.45, "forearm": 1.22, "hand": 0.68,
                                 "thigh": 1.8, "shin": 1.85, "below_ankle": 0.5}
"""Segment lengths in head heights (scaled with the figure's height below the chin). The leg
chain runs on below the ankle so that pant ends past the ankle have somewhere to go."""

LIMB_HALF: dict[str, float] = {"shoulder": 0.21, "elbow": 0.13, "wrist": 0.09, "fingertip": 0.06,
                               "hip": 0.36, "knee": 0.19, "ankle": 0.11}
"""Limb half-widths in head heights at the joints."""

SHOULDER_JOINT_INSET = 0.17
"""The shoulder joint sits this far inside the shoulder tip (the deltoid's cap covers it)."""
HIP_JOINT_X = 0.42
"""Half the spacing of the hip joints; with LIMB_HALF['hip'] it fills the pelvis."""
SLEEVE_HEAD = 0.05
"""A set-in sleeve starts this far (share of the arm) above the shoulder joint."""
ELBOW_AT = LIMB_LENGTH["upper_arm"] / (LIMB_LENGTH["upper_arm"] + LIMB_LENGTH["forearm"])
"""Where the elbow falls on the sleeve-end scale (shoulder joint 0, wrist 1)."""

FIGURE_HEADS = (7.4, 8.1)
FIGURE_WIDTH = (0.9, 1.1)
ARM_SPREAD_DEG = {False: (6.0, 26.0), True: (22.0, 45.0)}
"""Upper arm angle from the vertical: worn (False) or laid out flat (True)."""
ELBOW_BEND_DEG = {False: (-14.0, 22.0), True: (-4.0, 6.0)}
LEG_SPREAD_DEG = {False: (0.0, 7.0), True: (1.5, 5.0)}
HAIR_STYLES: tuple[tuple[str, float], ...] = (("short", 0.2), ("bob", 0.25), ("long", 0.45), ("bun", 0.1))

# ==============================================================================================
# Attribute values as continuous parameters (index = position in the task's values)
# ==============================================================================================

SLEEVE_END: dict[int, tuple[float, float]] = {
    1: (-0.14, 0.0),   # sleeveless: negative = the armhole is cut inside the shoulder tip
    2: (0.0, 0.13),    # cup sleeves: a cap over the shoulder joint
    3: (0.13, 0.42),   # short
    4: (0.42, 0.62),   # elbow (the elbow is at ELBOW_AT, 0.54)
    5: (0.62, 0.82),   # 3/4
    6: (0.82, 0.95),   # wrist length (9/10 in the paper's Chinese names: just above the wrist)
    7: (0.95, 1.08),   # long: at the wrist
    8: (1.08, 1.32),   # extra long: over the hand
}
"""Sleeve end as a fraction of the arm from the shoulder joint (0) to the wrist (1)."""

COAT_HEM: dict[int, tuple[float, float]] = {
    1: (2.45, 3.1),    # high waist: above the waist
    2: (3.1, 4.0),     # regular: to the hips
    3: (4.0, 4.6),     # long: just below the crotch
    4: (4.6, 5.25),    # micro ("extra long"): mid-thigh
    5: (5.25, 6.0),    # knee
    6: (6.0, 6.9),     # midi: calf
    7: (6.9, 8.0),     # ankle and floor
}
"""Coat hem in canonical head heights (the CANON_Y scale)."""

SKIRT_HEM: dict[int, tuple[float, float]] = {
    1: (4.25, 5.25),   # short: above the knee
    2: (5.25, 6.0),    # knee
    3: (6.0, 6.9),     # midi: calf
    4: (6.9, 7.72),    # ankle: the feet still show
    5: (7.72, 8.2),    # floor: covers the feet
}
"""Skirt (and dress) hem in canonical head heights."""

PANT_END: dict[int, tuple[float, float]] = {
    1: (0.06, 0.36),   # short pants
    2: (0.36, 0.62),   # mid length: around the knee (the knee is at 0.49)
    3: (0.62, 0.8),    # 3/4: calf
    4: (0.8, 0.95),    # cropped (9/10): above the ankle
    5: (0.95, 1.1),    # full length: onto the shoe
}
"""Pant leg end as a fraction of the leg from the hip joint (0) to the ankle (1)."""

LENGTH_PARAM: dict[str, dict[int, tuple[float, float]]] = {
    "sleeve": SLEEVE_END, "coat": COAT_HEM, "skirt": SKIRT_HEM, "pant": PANT_END,
}

DESIGN_PARAM: dict[str, dict[int, tuple[str, float, float]]] = {
    # value -> (shape axis, low, high) in head heights. Values on one axis whose ranges touch
    # are neighbours: a rendering near the border between them is ambiguous (an 'm' row).
    "neckline": {
        1: ("heart", 0.0, 0.05),      # strapless: a straight top edge (no heart dip)
        2: ("v", 0.62, 1.15),         # deep V: depth of the V below the neck point
        3: ("scoop", 0.02, 0.09),     # straight (boat) neck: a very shallow, wide scoop
        4: ("v", 0.3, 0.62),          # V neckline
        5: ("square", 0.28, 0.5),     # square: depth
        6: ("off", 0.12, 0.25),       # off shoulder: band height below the shoulder line
        7: ("scoop", 0.09, 0.34),     # round: depth
        8: ("heart", 0.05, 0.16),     # sweetheart: depth of the dip between the lobes
        9: ("one", 0.0, 0.15),        # one shoulder: tilt
    },
    "collar": {
        1: ("shirt", 0.22, 0.34),     # shirt collar: length of the points
        2: ("flat", 0.15, 0.26),      # Peter Pan: radius of the flat round collar
        3: ("flat", 0.26, 0.5),       # Puritan: a large flat collar
        4: ("rib", 0.05, 0.09),       # rib collar: band width
    },
    "neck": {
        1: ("height", 0.25, 0.42),    # turtle neck: band height
        2: ("ruffle", 0.14, 0.26),    # ruffle semi-high collar: band height
        3: ("height", 0.1, 0.25),     # low turtle (mock) neck
        4: ("drape", 0.3, 0.6),       # draped (cowl): depth of the folds
    },
    "lapel": {
        1: ("notch", 0.12, 0.2),      # notched: lapel width
        2: ("open", 0.5, 1.0),        # collarless: depth of the open front
        3: ("shawl", 0.1, 0.19),      # shawl collar: width
        4: ("shawl", 0.19, 0.36),     # plus-size shawl
    },
}

NECKLINE_SHAPE = ("", "strapless", "v", "straight", "v", "square", "off_shoulder", "round",
                  "sweetheart", "one_shoulder")
"""Neckline value -> the shape neckline_edge draws."""
COLLAR_SHAPE = ("", "shirt", "flat", "flat", "rib")
NECK_SHAPE = ("", "height", "ruffle", "height", "drape")
LAPEL_SHAPE = ("", "notch", "open", "shawl", "shawl")
BARE_SHOULDER_NECKLINES = ("strapless", "sweetheart", "off_shoulder", "one_shoulder")

# Garment types come with their usual cut (realistic correlations, as in the real photos).
COLLAR_SLEEVE_P = 0.6
COLLAR_SLEEVE: dict[int, tuple[float, float]] = {
    1: (0.85, 1.1),    # shirt collar: shirts, long sleeves
    2: (0.0, 0.4),     # Peter Pan: blouses and dresses with cup or short sleeves
    3: (-0.14, 0.3),   # Puritan: dresses, often sleeveless or short
    4: (0.13, 0.4),    # rib collar: polo shirts, short sleeves
}
"""Collar value -> the sleeve-end range of its usual garment (taken with COLLAR_SLEEVE_P)."""
LAPEL_HEM: dict[int, tuple[float, float]] = {
    0: (3.3, 6.5),
    1: (3.4, 4.3),     # notched: blazers end at the hips
    2: (2.8, 3.9),     # collarless: short jackets
    3: (3.8, 5.5),     # shawl collar: cardigans and longer jackets
    4: (4.5, 6.5),     # plus-size shawl: long coats
}
"""Lapel value -> canonical hem height of its usual garment."""

# ==============================================================================================
# How often things happen
# ==============================================================================================

VALUE_WEIGHTS: dict[str, tuple[float, ...]] = {
    # Imbalanced roughly like the real training set: a few common values and a long tail.
    "neckline": (0.06, 0.06, 0.09, 0.1, 0.17, 0.07, 0.11, 0.18, 0.07, 0.09),
    "collar": (0.13, 0.34, 0.21, 0.12, 0.2),
    "neck": (0.27, 0.26, 0.2, 0.15, 0.12),
    "lapel": (0.15, 0.32, 0.25, 0.16, 0.12),
    "sleeve": (0.05, 0.16, 0.05, 0.17, 0.1, 0.11, 0.14, 0.17, 0.05),
    "coat": (0.06, 0.1, 0.25, 0.18, 0.14, 0.09, 0.11, 0.07),
    "skirt": (0.06, 0.26, 0.23, 0.22, 0.14, 0.09),
    "pant": (0.06, 0.2, 0.12, 0.14, 0.2, 0.28),
}

FLAT_SHARE: dict[str, float] = {"design": 0.2, "length": 0.4}
"""Share of flat-lays per level: design photos are mostly on-model close-ups."""

INVISIBLE_MODES: dict[str, tuple[tuple[str, float], ...]] = {
    # How value 0 comes about: the region is out of frame, covered, or absent.
    "neckline": (("out_of_frame", 0.35), ("covered", 0.35), ("absent", 0.3)),
    "collar": (("out_of_frame", 0.3), ("covered", 0.3), ("absent", 0.4)),
    "neck": (("out_of_frame", 0.3), ("covered", 0.3), ("absent", 0.4)),
    "lapel": (("out_of_frame", 0.3), ("covered", 0.3), ("absent", 0.4)),
    "sleeve": (("out_of_frame", 0.5), ("covered", 0.5)),
    "coat": (("out_of_frame", 0.6), ("covered", 0.4)),
    "skirt": (("out_of_frame", 0.5), ("covered", 0.5)),
    "pant": (("out_of_frame", 0.5), ("covered", 0.5)),
}

AMBIGUOUS_P = 0.045
"""Probability that a row whose value has a neighbour is rendered near the border (``m``)."""
AMBIGUOUS_BAND = 0.12
"""How near counts as near the border (share of the value's range); plain rows keep out."""

# ==============================================================================================
# Nuisance
# ==============================================================================================

JPEG_QUALITY = (75, 95)
ASPECTS: tuple[tuple[float, float], ...] = ((1.0, 0.5), (0.75, 0.3), (0.875, 0.2))
"""(width / height, probability): square like most FashionAI images, else 3:4 or 7:8."""
SUPERSAMPLE_BELOW = 400
"""Images with a smaller long side are drawn at twice the size and reduced (anti-aliasing)."""

TEXTURES: tuple[tuple[str, float], ...] = (
    ("solid", 0.46), ("stripes", 0.2), ("dots", 0.11), ("checks", 0.13), ("print", 0.1),
)
SKIN_TONES: tuple[RGB, ...] = (
    (255, 224, 196), (241, 194, 160), (224, 172, 135), (198, 140, 100), (160, 108, 72),
    (112, 74, 50), (250, 210, 180), (232, 190, 160),
)
HAIR_COLOURS: tuple[RGB, ...] = (
    (25, 20, 18), (45, 32, 25), (80, 55, 35), (120, 85, 50), (180, 140, 90), (210, 180, 120),
    (60, 40, 35), (15, 15, 15),
)
BACKDROPS: dict[bool, tuple[tuple[str, float], ...]] = {
    # flat-lays are mostly shot on a plain light ground; models in a studio, a room or outdoors
    True: (("studio", 0.7), ("floor", 0.2), ("clutter", 0.1)),
    False: (("studio", 0.55), ("floor", 0.25), ("clutter", 0.2)),
}
STUDIO_GREY: dict[bool, tuple[float, float]] = {True: (200.0, 250.0), False: (160.0, 250.0)}
"""Grey level of a studio backdrop, for flat-lays (True) and on-model photos (False)."""
OTHER_GREY = (150.0, 250.0)
"""Grey level of floors, walls and clutter."""


# ==============================================================================================
# Geometry helpers
# ==============================================================================================

def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 12) -> np.ndarray:
    """Points on an ellipse from angle a0 to a1 (radians; y grows downwards)."""
    t = np.linspace(a0, a1, n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 20) -> np.ndarray:
    return _arc(cx, cy, rx, ry, 0.0, 2 * math.pi, n)[:-1]


def _thick_polyline(pts: np.ndarray, half: np.ndarray) -> np.ndarray:
    """The outline of a band of varying half-width along a polyline (limbs, sleeves, legs)."""
    d = np.diff(pts, axis=0)
    seg_n = np.stack([-d[:, 1], d[:, 0]], axis=1)
    seg_n /= np.maximum(np.linalg.norm(seg_n, axis=1, keepdims=True), 1e-9)
    nrm = np.empty_like(pts)
    nrm[0], nrm[-1] = seg_n[0], seg_n[-1]
    if len(pts) > 2:
        mid = seg_n[:-1] + seg_n[1:]
        nrm[1:-1] = mid / np.maximum(np.linalg.norm(mid, axis=1, keepdims=True), 1e-9)
    return np.vstack([pts + nrm * half[:, None], (pts - nrm * half[:, None])[::-1]])


def _cut_chain(pts: np.ndarray, half: np.ndarray, s0: float, s1: float) -> tuple[np.ndarray, np.ndarray]:
    """The part of a joint chain (with half-widths) between arc lengths s0 and s1.

    Arc lengths beyond either end extrapolate along the end segment.
    """
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])

    def at(s: float) -> tuple[np.ndarray, float]:
        i = min(max(int(np.searchsorted(cum, s)) - 1, 0), len(seg) - 1)
        u = (s - cum[i]) / max(seg[i], 1e-9)
        frac = min(max(u, 0.0), 1.0)   # widths do not extrapolate
        return pts[i] + u * (pts[i + 1] - pts[i]), float(half[i] + frac * (half[i + 1] - half[i]))

    p0, h0 = at(s0)
    p1, h1 = at(s1)
    inner = [i for i in range(len(pts)) if s0 < cum[i] < s1]
    return (np.array([p0] + [pts[i] for i in inner] + [p1]),
            np.array([h0] + [half[i] for i in inner] + [h1]))


def _chain_length(pts: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())


def _chain_y(chain: np.ndarray, s: float) -> float:
    """Height of the point at arc length s along a chain."""
    pts, _ = _cut_chain(chain, np.zeros(len(chain)), 0.0, s)
    return float(pts[-1, 1])


def _darker(c: RGB, f: float) -> RGB:
    return tuple(int(v * f) for v in c)  # type: ignore[return-value]


# ==============================================================================================
# The figure
# ==============================================================================================

@dataclass
class Figure:
    """A front-view figure in body coordinates."""

    heads: float                 # total height in head heights
    wf: float                    # width factor
    arms: dict[int, np.ndarray]  # side -> (4, 2): shoulder joint, elbow, wrist, fingertip
    legs: dict[int, np.ndarray]  # side -> (4, 2): hip joint, knee, ankle, a point below the ankle
    skin: RGB
    hair: RGB
    hair_style: str
    hair_len: float              # canonical height where long hair ends

    @property
    def k(self) -> float:
        """Vertical scale below the chin relative to the 8-head canon."""
        return (self.heads - 1.0) / 7.0

    def y(self, canon: float) -> float:
        """A canonical height (CANON_Y scale) on this figure."""
        chin = CANON_Y["chin"]
        return canon if canon <= chin else chin + (canon - chin) * self.k

    def ly(self, name: str) -> float:
        return self.y(CANON_Y[name])

    def hw(self, name: str) -> float:
        return HALF_WIDTH[name] * self.wf

    def trunk_half_width(self, y: float) -> float:
        """The trunk's half-width at height y (piecewise linear between landmarks)."""
        names = ("armpit", "bust", "waist", "hip", "crotch")
        return float(np.interp(y, [self.ly(n) for n in names], [self.hw(n) for n in names]))

    def arm_half(self) -> np.ndarray:
        return np.array([LIMB_HALF[j] for j in ("shoulder", "elbow", "wrist", "fingertip")]) * self.wf

    def leg_half(self) -> np.ndarray:
        return np.array([LIMB_HALF[j] for j in ("hip", "knee", "ankle", "ankle")]) * self.wf

    def arm_reach(self) -> float:
        """Shoulder joint to wrist: the unit of the sleeve-end fraction."""
        return (LIMB_LENGTH["upper_arm"] + LIMB_LENGTH["forearm"]) * self.k

    def leg_reach(self) -> float:
        """Hip joint to ankle: the unit of the pant-end fraction."""
        return (LIMB_LENGTH["thigh"] + LIMB_LENGTH["shin"]) * self.k

    def sleeve_end_y(self, f: float) -> float:
        """Lowest height reached by a sleeve ending at fraction f (of either arm)."""
        return max(_chain_y(a, max(f, 0.0) * self.arm_reach()) for a in self.arms.values())

    def pant_end_y(self, f: float) -> float:
        return max(_chain_y(leg, f * self.leg_reach()) for leg in self.legs.values())


def _limb_chain(root: np.ndarray, angles: Sequence[float], lengths: Sequence[float], side: int) -> np.ndarray:
    """Joint positions of a limb hanging from root; angles from the vertical, outwards positive."""
    pts = [root]
    for a, ln in zip(angles, lengths):
        pts.append(pts[-1] + ln * np.array([side * math.sin(a), math.cos(a)]))
    return np.array(pts)


def make_figure(rng: np.random.Generator, *, flat: bool) -> Figure:
    """Sample proportions and pose. A flat-lay gets a 'ghost' figure in a laid-out pose (sleeves
    spread and straight, as garments are arranged for a photo) that is never drawn."""
    heads = rng.uniform(*FIGURE_HEADS)
    wf = rng.uniform(*FIGURE_WIDTH)
    k = (heads - 1.0) / 7.0
    below_chin = lambda canon: CANON_Y["chin"] + (canon - CANON_Y["chin"]) * k  # noqa: E731
    arms, legs = {}, {}
    for side in (+1, -1):
        shoulder = np.array([side * (HALF_WIDTH["shoulder"] * wf - SHOULDER_JOINT_INSET),
                             below_chin(CANON_Y["shoulder"] + 0.06)])
        a_up = math.radians(rng.uniform(*ARM_SPREAD_DEG[flat]))
        bend = math.radians(rng.uniform(*ELBOW_BEND_DEG[flat]))
        lens = [LIMB_LENGTH[n] * k for n in ("upper_arm", "forearm", "hand")]
        arms[side] = _limb_chain(shoulder, (a_up, a_up + bend, a_up + bend), lens, side)
        hip = np.array([side * HIP_JOINT_X * wf, below_chin(CANON_Y["crotch"] - 0.05)])
        spread = math.radians(rng.uniform(*LEG_SPREAD_DEG[flat]))
        knee = math.radians(rng.uniform(-3, 3))
        lens = [LIMB_LENGTH[n] * k for n in ("thigh", "shin", "below_ankle")]
        legs[side] = _limb_chain(hip, (spread, spread + knee, spread + knee), lens, side)
    return Figure(
        heads=heads, wf=wf, arms=arms, legs=legs,
        skin=SKIN_TONES[int(rng.integers(len(SKIN_TONES)))],
        hair=HAIR_COLOURS[int(rng.integers(len(HAIR_COLOURS)))],
        hair_style=_pick(rng, HAIR_STYLES), hair_len=float(rng.uniform(2.0, 3.3)),
    )


# ==============================================================================================
# Garments, props, framing: the scene of one image
# ==============================================================================================

@dataclass
class Fabric:
    """Colour and pattern of one garment."""

    base: RGB
    second: RGB
    texture: str        # one of TEXTURES
    period: float       # pattern period in head heights
    angle: float        # pattern angle in radians

    def shade(self, factor: float) -> RGB:
        """The base colour darkened (< 1) or lightened (> 1): seams, linings, collars."""
        if factor >= 1:
            return tuple(int(c + (255 - c) * (factor - 1)) for c in self.base)  # type: ignore[return-value]
        return _darker(self.base, factor)


@dataclass
class Upper:
    """A top, dress or coat: everything from the shoulders down to the hem."""

    label: int                   # LIP 5 upper clothes, 6 dress, 7 coat
    fabric: Fabric
    hem: float                   # canonical height of the hem
    neckline: str = "round"      # a shape of neckline_edge
    neck_depth: float = 0.2
    sleeve: float | None = 0.3   # sleeve-end fraction (SLEEVE_END); None: strapless, no sleeves
    sleeve_ease: float = 1.25    # sleeve width over the arm's
    ease: float = 1.08           # body width over the trunk's
    flare: float = 0.12          # hem widening per head height below the hips
    collar: str | None = None    # shirt, flat, rib (COLLAR_SHAPE)
    collar_size: float = 0.2
    neck: str | None = None      # height, ruffle, drape (NECK_SHAPE)
    neck_size: float = 0.2
    lapel: str | None = None     # notch, open, shawl (LAPEL_SHAPE)
    lapel_size: float = 0.15
    open_front: bool = False     # worn open: the inner garment (or lining) shows down the front
    opening: float = 2.6         # canonical height where the open front closes (roll point)
    front_gap: float = 0.1       # how far the fronts of an open coat hang apart below it
    placket: bool = False        # a button line down the front
    trim: RGB | None = None      # a contrasting collar or lapel colour


@dataclass
class Lower:
    """Pants (LIP 9) or a skirt (LIP 12)."""

    label: int
    fabric: Fabric
    end: float                   # pants: leg fraction (PANT_END); skirt: canonical hem height
    ease: float = 1.12
    flare: float = 0.15


@dataclass
class Prop:
    """Something in front: a scarf (LIP 11), hair swept forward (LIP 2), a bag (background)."""

    kind: str                    # scarf, hair, bag
    centre: tuple[float, float]
    size: tuple[float, float]
    colour: RGB
    angle: float = 0.0


@dataclass
class Framing:
    """What the camera shows, in body coordinates."""

    x: float = 0.0               # on-model: horizontal centre of the view
    top: float = 0.0             # on-model: top and bottom of the view
    bottom: float = 8.5
    need: Box | None = None      # on-model: a box (x0, y0, x1, y1) that must stay in frame
    tight: bool = False          # on-model: a close-up narrower than the shoulders
    cut_top: float | None = None     # flat-lay: the frame starts here (below the neck)
    cut_bottom: float | None = None  # flat-lay: the frame ends above this height
    cut_sides: bool = False      # flat-lay: the frame is narrower than the garment's body


@dataclass
class Scene:
    """Everything needed to draw one image, and its label."""

    task: Task
    value: int                   # the 'y'
    maybe: int | None            # the neighbour marked 'm', if the rendering is near a border
    flat: bool
    figure: Figure
    uppers: list[Upper]          # inner first
    lower: Lower | None
    props: list[Prop]
    framing: Framing
    hide_arms: tuple[int, ...] = ()   # arms behind the back (not drawn)
    fold_sleeves: bool = False        # a flat-lay with its sleeves folded under
    rotation: float = 0.0
    backdrop: str = "studio"
    light: tuple[float, float, float] = (0.0, 1.0, 2.0)   # left-right gradient, brightness, noise
    quality: int = 90
    aspect: float = 1.0


def _pick(rng: np.random.Generator, table: Sequence[tuple[str, float]]) -> str:
    p = np.array([w for _, w in table], dtype=float)
    return table[int(rng.choice(len(table), p=p / p.sum()))][0]


def _random_colour(rng: np.random.Generator) -> RGB:
    """A garment colour (HSV): often muted, sometimes saturated, light to dark."""
    h = rng.uniform(0, 1)
    s = rng.choice([rng.uniform(0.0, 0.15), rng.uniform(0.2, 0.6), rng.uniform(0.6, 0.95)],
                   p=[0.35, 0.4, 0.25])
    v = rng.choice([rng.uniform(0.1, 0.35), rng.uniform(0.35, 0.75), rng.uniform(0.75, 0.97)],
                   p=[0.25, 0.45, 0.3])
    i, f = int(h * 6) % 6, h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return tuple(int(255 * c) for c in rgb)  # type: ignore[return-value]


def _fabric(rng: np.random.Generator) -> Fabric:
    angle = rng.choice([0.0, math.pi / 2, math.pi / 4, rng.uniform(0, math.pi)])
    return Fabric(base=_random_colour(rng), second=_random_colour(rng), texture=_pick(rng, TEXTURES),
                  period=float(rng.uniform(0.08, 0.3)), angle=float(angle))


def _trim(rng: np.random.Generator, p: float) -> RGB | None:
    """With probability p a contrasting collar or lapel colour: white, black or another."""
    if rng.random() >= p:
        return None
    kind = rng.random()
    if kind < 0.5:
        return (240, 238, 232)
    return (22, 22, 26) if kind < 0.7 else _random_colour(rng)


def _neighbours(table: dict[int, tuple[str, float, float]], v: int) -> list[tuple[float, int]]:
    """(border, neighbour) for each value whose range touches v's on the same axis."""
    axis, lo, hi = table[v]
    out = []
    for u, (ax, ulo, uhi) in sorted(table.items()):
        if u != v and ax == axis:
            if math.isclose(uhi, lo):
                out.append((lo, u))
            elif math.isclose(ulo, hi):
                out.append((hi, u))
    return out


def sample_param(rng: np.random.Generator, table: dict[int, tuple[str, float, float]],
                 v: int) -> tuple[float, int | None]:
    """Value v's continuous parameter, and the neighbour to mark ``m`` if it is near a border.

    Plain rows keep out of the band next to a border, so that the ``m`` rows are exactly the
    near-border renderings (DESIGN §6).
    """
    _, lo, hi = table[v]
    band = AMBIGUOUS_BAND * (hi - lo)
    borders = _neighbours(table, v)
    if borders and rng.random() < AMBIGUOUS_P:
        b, u = borders[int(rng.integers(len(borders)))]
        inwards = 1.0 if math.isclose(b, lo) else -1.0
        return float(b + inwards * band * rng.uniform(0.05, 1.0)), u
    lo2 = lo + band if any(math.isclose(b, lo) for b, _ in borders) else lo
    hi2 = hi - band if any(math.isclose(b, hi) for b, _ in borders) else hi
    return float(rng.uniform(lo2, hi2)), None


def _plain_neckline(rng: np.random.Generator) -> tuple[str, float]:
    """An everyday neckline for garments whose neckline is not the point."""
    kind = _pick(rng, (("round", 0.45), ("v", 0.25), ("high", 0.2), ("square", 0.1)))
    depth = {"round": (0.12, 0.3), "v": (0.3, 0.8), "high": (0.05, 0.05), "square": (0.28, 0.45)}[kind]
    return kind, float(rng.uniform(*depth))


def _random_sleeve(rng: np.random.Generator) -> float:
    """A sleeve end drawn like the sleeve task's own value distribution."""
    w = np.array(VALUE_WEIGHTS["sleeve"][1:])
    v = 1 + int(rng.choice(len(w), p=w / w.sum()))
    return float(rng.uniform(*SLEEVE_END[v]))


def _top(rng: np.random.Generator, *, label: int = 5, hem: float | None = None) -> Upper:
    """A top (LIP 5) or dress (LIP 6) with an everyday neckline and random sleeves."""
    kind, depth = _plain_neckline(rng)
    if hem is None:
        hem = rng.uniform(3.2, 4.0) if label == 5 else rng.uniform(4.6, 7.4)
    return Upper(label=label, fabric=_fabric(rng), hem=float(hem), neckline=kind, neck_depth=depth,
                 sleeve=_random_sleeve(rng), ease=float(rng.uniform(1.04, 1.14)),
                 flare=float(rng.uniform(0.02, 0.12) if label == 5 else rng.uniform(0.1, 0.3)),
                 sleeve_ease=float(rng.uniform(1.15, 1.45)))


def _coat(rng: np.random.Generator, hem: float) -> Upper:
    """A coat or jacket (LIP 7), closed, with long sleeves."""
    return Upper(label=7, fabric=_fabric(rng), hem=hem, sleeve=float(rng.uniform(0.75, 1.15)),
                 ease=float(rng.uniform(1.12, 1.25)), flare=float(rng.uniform(0.03, 0.2)),
                 neckline="high", neck_depth=0.06, opening=float(rng.uniform(2.4, 3.4)), placket=True,
                 front_gap=float(rng.uniform(0.08, 0.16)))


def _lower(rng: np.random.Generator) -> Lower:
    """Everyday pants or a skirt of any length."""
    if rng.random() < 0.4:
        v = int(rng.integers(1, len(SKIRT_HEM) + 1))
        return Lower(label=12, fabric=_fabric(rng), end=float(rng.uniform(*SKIRT_HEM[v])),
                     flare=float(rng.uniform(0.05, 0.35)))
    v = int(rng.integers(1, len(PANT_END) + 1))
    return Lower(label=9, fabric=_fabric(rng), end=float(rng.uniform(*PANT_END[v])),
                 ease=float(rng.uniform(1.05, 1.35)), flare=float(rng.uniform(0.0, 0.12)))


def _bag(rng: np.random.Generator, centre: tuple[float, float], w: float, h: float) -> Prop:
    return Prop("bag", centre, (w, h), _random_colour(rng), float(rng.uniform(-0.2, 0.2)))


def _neck_cover(rng: np.random.Generator, fig: Figure) -> Prop:
    """A scarf knotted at the neck, or long hair swept to the front."""
    neck = fig.ly("neck_base")
    if rng.random() < 0.6:
        return Prop("scarf", (float(rng.uniform(-0.1, 0.1)), neck + 0.15),
                    (float(rng.uniform(0.55, 0.75)), float(rng.uniform(0.4, 0.6))), _random_colour(rng))
    return Prop("hair", (0.0, neck + 0.25), (0.62, float(rng.uniform(1.2, 1.8))), fig.hair)


@dataclass
class _Dressing:
    """What a task's sampler decides: garments, props, framing, and the label's ambiguity."""

    uppers: list[Upper]
    lower: Lower | None
    props: list[Prop]
    framing: Framing
    maybe: int | None = None
    hide_arms: tuple[int, ...] = ()
    fold_sleeves: bool = False


def _dress_design(rng: np.random.Generator, task: Task, v: int, flat: bool, fig: Figure) -> _Dressing:
    """The four design-level tasks: a top or dress (under a coat for lapels), upper-body close-up."""
    short = task.short
    maybe: int | None = None
    mode = _pick(rng, INVISIBLE_MODES[short]) if v == 0 else ""
    is_dress = rng.random() < 0.35
    up = _top(rng, label=6 if is_dress else 5)
    uppers = [up]
    if short == "neckline":
        if v:
            up.neck_depth, maybe = sample_param(rng, DESIGN_PARAM["neckline"], v)
            up.neckline = NECKLINE_SHAPE[v]
            if up.neckline in ("strapless", "sweetheart"):
                up.sleeve = None
            elif up.neckline == "off_shoulder":   # the band runs across the upper arms
                up.sleeve = float(max(up.sleeve or 0.3, 0.3))
        elif mode == "absent":                    # a turtle neck hides the neckline
            up.neckline, up.neck_depth = "high", 0.05
            up.neck, up.neck_size = "height", float(rng.uniform(0.15, 0.42))
    elif short == "collar":
        up.neckline, up.neck_depth = "high", 0.08
        if v:
            up.collar_size, maybe = sample_param(rng, DESIGN_PARAM["collar"], v)
            up.collar = COLLAR_SHAPE[v]
            up.trim = _trim(rng, 0.45)
            up.placket = v == 1 or rng.random() < 0.3
            if up.collar == "rib":
                up.neckline, up.neck_depth = "round", float(rng.uniform(0.12, 0.22))
            if rng.random() < COLLAR_SLEEVE_P:
                up.sleeve = float(rng.uniform(*COLLAR_SLEEVE[v]))
        elif mode == "absent":
            up.neckline, up.neck_depth = _plain_neckline(rng)
    elif short == "neck":
        up.neckline, up.neck_depth = "high", 0.05
        if v:
            up.neck_size, maybe = sample_param(rng, DESIGN_PARAM["neck"], v)
            up.neck = NECK_SHAPE[v]
            if up.neck == "drape":
                up.neckline, up.neck_depth = "round", 0.3
        elif mode == "absent":                    # an open neckline: nothing up the neck
            up.neckline, up.neck_depth = _plain_neckline(rng)
            if up.neckline == "high":
                up.neckline, up.neck_depth = "v", float(rng.uniform(0.3, 0.7))
    elif short == "lapel":
        coat = _coat(rng, float(rng.uniform(*LAPEL_HEM[v])))
        coat.sleeve, coat.placket = float(rng.uniform(0.8, 1.1)), False
        coat.opening = float(rng.uniform(2.4, 3.2))
        up.label, up.sleeve = 5, None
        uppers.append(coat)
        if v:
            coat.lapel_size, maybe = sample_param(rng, DESIGN_PARAM["lapel"], v)
            coat.lapel = LAPEL_SHAPE[v]
            coat.trim = _trim(rng, 0.3)
            coat.open_front = True
            if v == 2:
                coat.opening = float(CANON_Y["neck_base"] + 0.6 + coat.lapel_size)
            if v == 1 and rng.random() < 0.5:     # suit jackets: dark solid cloth over a shirt
                coat.fabric.base, coat.fabric.texture = _darker(coat.fabric.base, 0.4), "solid"
            if v != 1:
                up.neckline, up.neck_depth = _plain_neckline(rng)
        elif mode == "absent":                    # a closed jacket: no lapels at all
            coat.placket = True
    lower = None if is_dress and short != "lapel" else _lower(rng)

    neck = fig.ly("neck_base")
    props: list[Prop] = []
    framing = Framing()
    if flat:
        if mode == "out_of_frame":
            framing.cut_top = neck + float(rng.uniform(0.9, 1.4))
        elif mode == "covered":
            props.append(_bag(rng, (float(rng.uniform(-0.15, 0.15)), neck + 0.2),
                              float(rng.uniform(0.8, 1.2)), float(rng.uniform(0.7, 1.0))))
    else:
        # product close-ups of the upper body: the crop runs through the face or just above it
        # and ends around the hips, so the neck region is large and in a steady place
        framing.top, framing.bottom = float(rng.uniform(0.0, 0.7)), float(rng.uniform(3.5, 4.6))
        framing.x = float(rng.uniform(-0.15, 0.15))
        if mode == "out_of_frame":
            framing.top = neck + float(rng.uniform(0.9, 1.5))
            framing.bottom = framing.top + float(rng.uniform(2.2, 3.5))
        elif mode == "covered":
            props.append(_neck_cover(rng, fig))
    return _Dressing(uppers, lower, props, framing, maybe)


def _dress_sleeve(rng: np.random.Generator, v: int, f: float | None, flat: bool, fig: Figure,
                  mode: str) -> _Dressing:
    """Sleeve length: a top, dress or coat; arms hanging by the body or sleeves laid out."""
    label = int(rng.choice([5, 6, 7], p=[0.55, 0.2, 0.25]))
    up = _top(rng, label=label)
    if label == 7:
        up.hem = float(rng.uniform(3.5, 6.0))
    up.sleeve = f if f is not None else float(rng.uniform(0.3, 1.1))
    if up.sleeve < 0.0 and up.neckline == "high":
        up.neckline = "round"
    lower = None if label == 6 else _lower(rng)
    d = _Dressing([up], lower, [], Framing())
    if flat:
        d.framing.cut_sides = mode == "out_of_frame"
        d.fold_sleeves = mode == "covered"
        return d
    y_end = fig.sleeve_end_y(up.sleeve)
    top = float(rng.uniform(-0.5, 1.0))
    bottom = max(min(fig.ly("floor") + 0.3, y_end + rng.uniform(0.5, 2.5)), fig.ly("hip") + 0.3)
    reach_x = max(float(np.abs(a[:, 0]).max()) for a in fig.arms.values()) + 0.15
    d.framing = Framing(x=float(rng.uniform(-0.3, 0.3)), top=top, bottom=float(bottom),
                        need=(-reach_x, top, reach_x, y_end + 0.2))
    if mode == "out_of_frame":
        # a chest close-up narrower than the shoulders: both arms fall outside
        d.framing.top = fig.ly("neck_base") - float(rng.uniform(0.1, 0.5))
        d.framing.bottom = d.framing.top + float(rng.uniform(1.5, 1.9))
        d.framing.need, d.framing.tight = None, True
    elif mode == "covered":
        # one arm behind the back, a bag held in front of the other
        side = int(rng.choice([-1, 1]))
        d.hide_arms = (side,)
        elbow = fig.arms[-side][1]
        d.props.append(_bag(rng, (float(elbow[0]), float(elbow[1] + 0.2)), float(rng.uniform(1.2, 1.7)),
                            fig.ly("waist") - fig.ly("shoulder") + 1.6))
    return d


def _dress_hem(rng: np.random.Generator, short: str, p: float | None, flat: bool, fig: Figure,
               mode: str) -> _Dressing:
    """Coat, skirt and pant length: full or lower-body shots, or the garment laid out."""
    if short == "coat":
        inner = _top(rng, label=int(rng.choice([5, 6], p=[0.7, 0.3])))
        coat = _coat(rng, p if p is not None else float(rng.uniform(3.0, 7.5)))
        coat.open_front = bool(rng.random() < 0.6)
        if coat.open_front:
            coat.lapel = str(rng.choice(["notch", "shawl", "open"]))
            coat.lapel_size = float(rng.uniform(0.1, 0.25))
        if inner.label == 6:
            inner.hem = float(rng.uniform(4.5, 7.6))
        uppers, lower = [inner, coat], (None if inner.label == 6 else _lower(rng))
        y_end = fig.y(coat.hem)
    elif short == "skirt":
        top = _top(rng, label=5)
        hem = p if p is not None else float(rng.uniform(4.6, 8.0))
        if rng.random() < 0.55:
            lower = Lower(label=12, fabric=_fabric(rng), end=hem, flare=float(rng.uniform(0.04, 0.35)))
            top.hem = float(rng.uniform(3.0, 3.7))
        else:                                     # a dress: its hem is the skirt length
            lower = None
            top.label, top.hem, top.flare = 6, hem, float(rng.uniform(0.06, 0.35))
        uppers = [top]
        y_end = fig.y(hem)
    else:  # pant
        end = p if p is not None else float(rng.uniform(0.1, 1.1))
        uppers = [_top(rng, label=5, hem=float(rng.uniform(3.0, 3.9)))]
        lower = Lower(label=9, fabric=_fabric(rng), end=end, ease=float(rng.uniform(1.05, 1.4)),
                      flare=float(rng.uniform(0.0, 0.15)))
        y_end = fig.pant_end_y(end)
    d = _Dressing(uppers, lower, [], Framing())
    if flat:
        if mode == "out_of_frame":
            d.framing.cut_bottom = y_end
        elif mode == "covered":
            d.props.append(_bag(rng, (float(rng.uniform(-0.3, 0.3)), y_end - 0.1),
                                float(rng.uniform(1.2, 1.8)), float(rng.uniform(1.1, 1.5))))
        return d
    floor = fig.ly("floor")
    top = float(rng.uniform(-0.6, 0.7) if short == "coat" else rng.uniform(-0.6, 2.9))
    feet = max(y_end, floor) + rng.uniform(0.1, 0.45)
    # most shots show the feet; some stop a little below the hem
    bottom = min(floor + 0.45, max(y_end + rng.uniform(0.3, 1.2), feet if rng.random() < 0.8 else 0.0))
    need: Box | None = (-1.2, top, 1.2, min(y_end + 0.2, floor + 0.2))
    if mode == "out_of_frame":
        bottom = y_end - rng.uniform(0.4, 1.4)
        top, need = min(top, bottom - 2.5), None
    elif mode == "covered":
        d.props.append(_bag(rng, (float(rng.uniform(-0.3, 0.3)), y_end - 0.05),
                            float(rng.uniform(1.3, 1.9)), float(rng.uniform(1.2, 1.6))))
    d.framing = Framing(x=float(rng.uniform(-0.3, 0.3)), top=top, bottom=float(bottom), need=need)
    return d


_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def value_of(seed: int, task_index: int, index: int) -> int:
    """The value image ``index`` shows. A golden-ratio sequence through the cumulative
    VALUE_WEIGHTS, started at a point drawn from (seed, task): any run of indices follows the
    weights closely, so even a small set has every value, Invisible included."""
    start = np.random.default_rng(np.random.SeedSequence([seed, task_index])).random()
    weights = np.array(VALUE_WEIGHTS[TASKS[task_index].short], dtype=float)
    u = (start + index * _GOLDEN) % 1.0
    return min(int(np.searchsorted(np.cumsum(weights) / weights.sum(), u, side="right")), len(weights) - 1)


def sample_scene(seed: int, task_index: int, index: int) -> Scene:
    """The scene of image ``index`` of task ``TASKS[task_index]``; depends on nothing else."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, task_index, index]))
    task = TASKS[task_index]
    v = value_of(seed, task_index, index)
    flat = bool(rng.random() < FLAT_SHARE[task.level])
    fig = make_figure(rng, flat=flat)
    if task.level == "design":
        d = _dress_design(rng, task, v, flat, fig)
    else:
        mode = _pick(rng, INVISIBLE_MODES[task.short]) if v == 0 else ""
        p, maybe = (None, None)
        if v:
            table = {u: ("length", lo, hi) for u, (lo, hi) in LENGTH_PARAM[task.short].items()}
            p, maybe = sample_param(rng, table, v)
        if task.short == "sleeve":
            d = _dress_sleeve(rng, v, p, flat, fig, mode)
        else:
            d = _dress_hem(rng, task.short, p, flat, fig, mode)
        d.maybe = maybe
    if flat:   # a flat-lay shows the one garment the task is about, alone
        if task.short in ("skirt", "pant") and d.lower is not None:
            d.uppers = []
        else:
            d.uppers, d.lower = d.uppers[-1:], None
    return Scene(
        task=task, value=v, maybe=d.maybe, flat=flat, figure=fig, uppers=d.uppers, lower=d.lower,
        props=d.props, framing=d.framing, hide_arms=d.hide_arms, fold_sleeves=d.fold_sleeves,
        rotation=float(rng.normal(0, 0.05 if flat else 0.02)),
        backdrop=_pick(rng, BACKDROPS[flat]),
        light=(float(rng.uniform(-0.15, 0.15)), float(rng.uniform(0.9, 1.08)), float(rng.uniform(1, 5))),
        quality=int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)),
        aspect=float(rng.choice([a for a, _ in ASPECTS], p=[q for _, q in ASPECTS])),
    )


# ==============================================================================================
# Garment outlines (pure functions of figure and garment: used to draw and to frame)
# ==============================================================================================

def _shoulder_y(fig: Figure, x: float) -> float:
    """The sloping shoulder line from the neck base to the shoulder tip."""
    nw, sw = fig.hw("neck"), fig.hw("shoulder")
    t = min(max((abs(x) - nw) / max(sw - nw, 1e-6), 0.0), 1.2)
    return fig.ly("neck_base") + t * (fig.ly("shoulder") - fig.ly("neck_base"))


def _scoop_half_width(fig: Figure, depth: float, straight: bool = False) -> float:
    """Half-width of a scoop neckline: the shallower, the wider (a boat neck runs far out)."""
    if straight:
        return float(np.interp(depth, [0.02, 0.09], [0.66, 0.42])) * fig.wf
    return float(np.interp(depth, [0.02, 0.09, 0.34], [0.62, 0.34, 0.3])) * fig.wf


def neckline_edge(fig: Figure, g: Upper) -> np.ndarray:
    """The garment's top edge from its left end to its right end (the garment lies below it).

    Shapes (DESIGN §6): round, v (V and deep V by depth), square, straight (boat), strapless,
    sweetheart, off_shoulder, one_shoulder, and high (hugging the neck, under collars and
    neck bands). Shoulder-covering shapes run from shoulder tip to shoulder tip.
    """
    nb, nw = fig.ly("neck_base"), fig.hw("neck")
    d, kind = g.neck_depth, g.neckline
    aw = fig.hw("armpit") * g.ease
    top_y = fig.ly("armpit") - 0.18          # a strapless top edge sits just above the armpit
    if kind in ("strapless", "sweetheart"):
        h = d if kind == "sweetheart" else d * 0.5
        xs = np.linspace(-aw, aw, 17)
        # two lobes and a dip in the middle; h = 0 is a straight strapless edge
        ys = top_y - h * 0.8 * np.sin(np.pi * np.abs(xs) / aw) ** 2 + h * np.exp(-(xs / 0.07) ** 2)
        return np.stack([xs, ys], axis=1)
    if kind == "off_shoulder":
        xs = np.linspace(-aw, aw, 9)
        return np.stack([xs, fig.ly("shoulder") + d - 0.05 * np.cos(xs / aw * np.pi / 2)], axis=1)
    # the shoulder seam ends just outside the shoulder joint, where the sleeve takes over;
    # a sleeveless garment's ends further in, the more so the more negative its sleeve fraction
    tip = float(fig.arms[1][0, 0]) + LIMB_HALF["shoulder"] * fig.wf * g.sleeve_ease * 0.9
    tip += min(g.sleeve, 0.0) * 2.2 if g.sleeve is not None else -0.3
    if kind == "one_shoulder":
        return np.array([[-tip, _shoulder_y(fig, tip) + d * 0.3], [-nw - 0.04, nb + 0.02],
                         [0.1, nb + 0.4 + d], [aw, top_y]])
    if kind == "v":
        a = nw + 0.06
        inner = np.array([[-a, _shoulder_y(fig, a)], [0.0, nb + d], [a, _shoulder_y(fig, a)]])
    elif kind == "square":
        a = nw + 0.14
        ya = _shoulder_y(fig, a)
        inner = np.array([[-a, ya], [-a * 0.92, nb + d], [a * 0.92, nb + d], [a, ya]])
    elif kind == "high":
        inner = _arc(0.0, nb - 0.04, nw + 0.03, d + 0.04, math.pi, 0.0, 9)
    else:  # round, straight
        a = _scoop_half_width(fig, d, straight=kind == "straight")
        inner = _arc(0.0, _shoulder_y(fig, a), a, d, math.pi, 0.0, 13)
    tip = max(tip, float(abs(inner[0, 0])) + 0.08)
    return np.vstack([[[-tip, _shoulder_y(fig, tip)]], inner, [[tip, _shoulder_y(fig, tip)]]])


def upper_polygons(fig: Figure, g: Upper) -> dict[str, list[np.ndarray]]:
    """Outlines of an upper garment: 'body' (the front), 'back' (seen through the neckline of a
    flat-lay) and 'sleeves' (one per side, person's left first; one_shoulder has one)."""
    edge = neckline_edge(fig, g)
    hem_y, hip_y = fig.y(g.hem), fig.ly("hip")
    levels = [fig.ly(n) for n in ("armpit", "bust", "waist", "hip", "crotch")]

    def half(y: float) -> float:
        if y > hip_y:   # below the hips the cloth hangs free and flares
            return fig.hw("hip") * g.ease + g.flare * (y - hip_y)
        return fig.trunk_half_width(y) * g.ease

    ys = [y for y in levels if max(edge[-1, 1], levels[0] - 0.05) < y < hem_y] + [hem_y]
    right = [(half(y), y) for y in ys]
    if g.neckline == "one_shoulder":   # the strap side starts higher, at the shoulder
        left = [(-half(y), y) for y in [y for y in levels if edge[0, 1] + 0.3 < y < hem_y] + [hem_y]]
    else:
        left = [(-x, y) for x, y in right]
    hem = [(0.0, hem_y + 0.04)]        # cloth hangs a little lower in the middle
    body = np.vstack([edge, np.array(right), np.array(hem), np.array(left[::-1])])
    shoulder_x = 0.7 * fig.wf
    back = np.vstack([[[-shoulder_x, _shoulder_y(fig, shoulder_x)]],
                      _arc(0.0, fig.ly("neck_base") - 0.02, fig.hw("neck") + 0.05, 0.1, math.pi, 0.0, 9),
                      [[shoulder_x, _shoulder_y(fig, shoulder_x)], [0.5, fig.ly("bust") + 0.6],
                       [-0.5, fig.ly("bust") + 0.6]]])
    sleeves = []
    if g.sleeve is not None and g.sleeve > 0:
        reach = fig.arm_reach()
        # an off-shoulder band starts on the upper arm; a set-in sleeve a little above the
        # shoulder joint, narrowing there like a sleeve head, so that it covers the shoulder's
        # cap without poking above the shoulder line
        start = 0.13 * reach if g.neckline == "off_shoulder" else -SLEEVE_HEAD * reach
        for side in (+1, -1):
            if g.neckline == "one_shoulder" and side == +1:
                continue
            half_w = fig.arm_half() * g.sleeve_ease
            half_w[2:] *= 1.0 + 0.6 * max(g.sleeve_ease - 1.25, 0.0)   # loose sleeves flare at the cuff
            pts, hw = _cut_chain(fig.arms[side], half_w + 0.02, start, g.sleeve * reach)
            if start < 0:
                hw[0] *= 0.45
            sleeves.append(_thick_polyline(pts, hw))
    return {"body": [body], "back": [back], "sleeves": sleeves}


def sleeve_sides(g: Upper) -> list[int]:
    """The sides that upper_polygons gives sleeves for, in its order."""
    return [s for s in (+1, -1) if not (g.neckline == "one_shoulder" and s == +1)]


def lower_polygons(fig: Figure, g: Lower) -> list[np.ndarray]:
    """Outlines of pants (seat and two legs) or a skirt."""
    waist_y, hip_y = fig.ly("waist") + 0.1, fig.ly("hip")
    ww, hw = fig.hw("waist") * 1.04, fig.hw("hip") * 1.06
    if g.label == LIP["skirt"]:
        hem_y = fig.y(g.end)
        hem_w = hw + g.flare * (hem_y - hip_y)
        xs = np.linspace(-hem_w, hem_w, 9)
        hem = np.stack([xs[::-1], hem_y + 0.05 * np.cos(xs / hem_w * np.pi / 2)], axis=1)
        return [np.vstack([[[-ww, waist_y], [ww, waist_y], [hw, hip_y]], hem, [[-hw, hip_y]]])]
    crotch_y = fig.ly("crotch")
    # the seat ends where the legs' outer edges begin, so the outline runs on without a step
    out_x = float(fig.legs[1][0, 0]) + LIMB_HALF["hip"] * fig.wf * g.ease
    seat = np.array([[-ww, waist_y], [ww, waist_y], [out_x, hip_y], [out_x, crotch_y - 0.15],
                     [0.0, crotch_y + 0.1], [-out_x, crotch_y - 0.15], [-out_x, hip_y]])
    polys = [seat]
    for side in (+1, -1):
        half = fig.leg_half() * g.ease
        half[1:] += g.flare * np.array([0.3, 0.8, 0.8])
        pts, hwid = _cut_chain(fig.legs[side], half, -0.1, g.end * fig.leg_reach())
        polys.append(_thick_polyline(pts, hwid))
    return polys


def garment_extent(scene: Scene) -> Box:
    """Bounding box (x0, y0, x1, y1) of every garment drawn: what a flat-lay is framed on."""
    fig = scene.figure
    pts = []
    for g in scene.uppers:
        polys = upper_polygons(fig, g)
        pts += polys["body"] + ([] if scene.fold_sleeves else polys["sleeves"])
        if g.neck == "height":
            pts.append(np.array([[0.0, fig.ly("neck_base") - g.neck_size]]))
    if scene.lower is not None:
        pts += lower_polygons(fig, scene.lower)
    allp = np.vstack(pts)
    return float(allp[:, 0].min()), float(allp[:, 1].min()), float(allp[:, 0].max()), float(allp[:, 1].max())


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


# ==============================================================================================
# Drawing, one function per part
# ==============================================================================================

def _random_light(rng: np.random.Generator, lo: float, hi: float) -> RGB:
    """A backdrop colour: light and low in saturation, as in catalogue photos."""
    v = rng.uniform(lo, hi)
    return tuple(int(min(max(v + t, 0), 255)) for t in rng.normal(0, 10, 3))  # type: ignore[return-value]


def draw_background(kind: str, w: int, h: int, rng: np.random.Generator, *, flat: bool,
                    floor_px: float) -> Image.Image:
    """Studio gradient; floor (wall and floor behind a model, wooden boards under a flat-lay);
    or clutter (shapes, out of focus)."""
    lo, hi = STUDIO_GREY[flat] if kind == "studio" else OTHER_GREY
    top = np.array(_random_light(rng, lo, hi), dtype=np.float32)
    bottom = np.array(_random_light(rng, lo, hi), dtype=np.float32)
    # every backdrop varies only down the image: one column is computed and stretched
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    col = top * (1 - t) + bottom * t
    if kind == "floor":
        if flat:
            board = max(4, int(h * rng.uniform(0.08, 0.2)))
            rows = ((np.arange(h) // board) % 2)[:, None]
            wood = np.array(_random_light(rng, *OTHER_GREY), dtype=np.float32) * rng.uniform(0.75, 0.95)
            col = np.where(rows == 1, col * 0.93, col) * 0.5 + wood * 0.5
        else:   # the wall meets the floor a little behind the feet
            fy = min(max(int(floor_px - rng.uniform(0.02, 0.15) * h), 0), h)
            floor_col = np.array(_random_light(rng, *OTHER_GREY), dtype=np.float32) * rng.uniform(0.7, 0.95)
            col[fy:] = floor_col * np.linspace(0.9, 1.05, h - fy, dtype=np.float32)[:, None]
    col8 = np.clip(col, 0, 255).astype(np.uint8)
    out = Image.fromarray(np.ascontiguousarray(col8[:, None, :])).resize((w, h), Image.NEAREST)
    if kind == "clutter":
        d = ImageDraw.Draw(out)
        for _ in range(int(rng.integers(3, 9))):
            x0, y0 = rng.uniform(-0.2, 1.0) * w, rng.uniform(-0.2, 1.0) * h
            box = (x0, y0, x0 + rng.uniform(0.1, 0.5) * w, y0 + rng.uniform(0.1, 0.6) * h)
            colour = _darker(_random_light(rng, *OTHER_GREY), rng.uniform(0.6, 1.0))
            (d.rectangle if rng.random() < 0.5 else d.ellipse)(box, fill=colour)
        # out of focus, as a shallow depth of field renders a real background
        out = out.resize((max(1, w // 8), max(1, h // 8)), Image.BILINEAR).resize((w, h), Image.BILINEAR)
    return out


def draw_back_hair(cv: Canvas, fig: Figure) -> None:
    """Long hair falls behind the shoulders: drawn first, so that the body covers it."""
    if fig.hair_style != "long":
        return
    bottom = fig.y(fig.hair_len)
    pts = np.vstack([_arc(0.0, 0.5, 0.46, 0.55, math.pi, 2 * math.pi, 9),
                     [[0.5, 1.2], [0.62, bottom], [-0.62, bottom], [-0.5, 1.2]]])
    cv.poly(pts, fig.hair, LIP["hair"])


def draw_legs(cv: Canvas, fig: Figure) -> None:
    """Legs from the hip joints to the ankles (LIP 16/17)."""
    for side in (+1, -1):
        leg = fig.legs[side]
        pts, hw = _cut_chain(leg, fig.leg_half(), 0.0, _chain_length(leg[:3]))
        cv.poly(_thick_polyline(pts, hw), fig.skin, LEG_LABEL[side])


def draw_shoes(cv: Canvas, fig: Figure) -> None:
    """Front-view shoes: a rounded toe box below each ankle, turned a little outwards (LIP 18/19)."""
    colour = (30, 28, 30) if fig.hair[0] < 60 else (120, 80, 60)
    for side in (+1, -1):
        ankle = fig.legs[side][2]
        cv.poly(_ellipse(float(ankle[0] + side * 0.06), float(ankle[1] + 0.2 * fig.k), 0.17 * fig.wf,
                         0.24 * fig.k, 14), colour, SHOE_LABEL[side])


def draw_trunk(cv: Canvas, fig: Figure) -> None:
    """Neck and trunk skin (seen through necklines) and the tops of the arms."""
    nb, sh = fig.ly("neck_base"), fig.ly("shoulder")
    nw, sw = fig.hw("neck"), fig.hw("shoulder")
    right = [(sw, sh)] + [(fig.hw(n), fig.ly(n)) for n in ("armpit", "waist", "hip", "crotch")]
    trunk = np.array([(-nw, nb), (nw, nb)] + right + [(-x, y) for x, y in right[::-1]])
    cv.poly(trunk, fig.skin, TRUNK_SKIN_LABEL)
    neck = np.array([[-nw, 0.8], [nw, 0.8], [nw * 1.1, nb + 0.05], [-nw * 1.1, nb + 0.05]])
    cv.poly(neck, fig.skin, NECK_LABEL)
    # a faint shadow under the chin gives the neck some depth
    cv.poly(_arc(0.0, 0.92, nw, 0.12, 0.0, math.pi, 7), _darker(fig.skin, 0.85), NECK_LABEL)
    for side in (+1, -1):
        # the top of the upper arm lies under a garment's shoulder: drawn here, before the
        # garments, so that straps stay on top; draw_arms continues it after the garments
        arm = fig.arms[side]
        pts, hw = _cut_chain(arm, fig.arm_half(), 0.0, 0.3 * fig.arm_reach())
        cv.poly(_thick_polyline(pts, hw), fig.skin, ARM_LABEL[side])
        cap = _ellipse(float(arm[0, 0]), float(arm[0, 1]), float(hw[0]), 0.13, 12)
        cv.poly(cap, fig.skin, ARM_LABEL[side])


def draw_head(cv: Canvas, fig: Figure) -> None:
    """The face (LIP 13) and the hair on the head (LIP 2)."""
    cv.poly(_ellipse(0.0, 0.52, 0.35, 0.5, 20), fig.skin, LIP["face"])
    side_y = 0.55 if fig.hair_style == "short" else 0.9
    cap = np.vstack([_arc(0.0, 0.5, 0.4, 0.56, math.pi * 1.05, math.pi * 1.95, 12),
                     [[0.36, side_y], [0.3, 0.3], [-0.1, 0.22], [-0.33, 0.35], [-0.36, side_y]]])
    cv.poly(cap, fig.hair, LIP["hair"])
    if fig.hair_style == "bun":
        cv.poly(_ellipse(0.0, -0.1, 0.2, 0.16, 12), fig.hair, LIP["hair"])


def draw_face_features(cv: Canvas, fig: Figure) -> None:
    """Eyes, brows and mouth: tiny marks that tell a face at a glance (image only)."""
    for s in (-1, 1):
        cv.poly(_ellipse(s * 0.14, 0.52, 0.05, 0.03, 8), _darker(fig.skin, 0.35), None)
        cv.line(np.array([[s * 0.08, 0.44], [s * 0.2, 0.43]]), fig.hair, 0.02)
    cv.line(np.array([[-0.08, 0.8], [0.08, 0.8]]), (170, 70, 80), 0.025)


def draw_arms(cv: Canvas, fig: Figure, hidden: Sequence[int]) -> None:
    """Arms from below the shoulder cap to the fingertips (LIP 14/15), over the garment body."""
    for side in (+1, -1):
        if side in hidden:
            continue
        arm = fig.arms[side]
        pts, hw = _cut_chain(arm, fig.arm_half(), 0.12 * fig.arm_reach(), _chain_length(arm))
        cv.poly(_thick_polyline(pts, hw), fig.skin, ARM_LABEL[side])
        hand = _ellipse(float(arm[3, 0]), float(arm[3, 1] - 0.08), 0.09, 0.12, 8)
        cv.poly(hand, fig.skin, ARM_LABEL[side])


def draw_garment_body(cv: Canvas, fig: Figure, g: Upper, inner: Upper | None, *, flat: bool) -> None:
    """An upper garment's body panel with its neckline seam and placket; an open coat shows the
    inner garment (or, laid flat, its lining) between its fronts. Sleeves come later."""
    polys = upper_polygons(fig, g)
    if flat and g.neckline not in BARE_SHOULDER_NECKLINES and not g.open_front:
        # the back panel shows through the neckline of a garment lying flat
        cv.poly(polys["back"][0], g.fabric.shade(0.72), g.label)
    cv.fabric(polys["body"], g.fabric, g.label)
    seam = g.fabric.shade(0.6)
    nb, hem = fig.ly("neck_base"), fig.y(g.hem)
    if g.open_front:
        a = fig.hw("neck") + 0.05
        roll = fig.y(g.opening)
        gap = g.front_gap
        opening = np.array([[-a, nb - 0.1], [a, nb - 0.1], [gap, roll], [gap, hem + 0.2],
                            [-gap, hem + 0.2], [-gap, roll]])
        if inner is None or flat:
            cv.poly(opening, g.fabric.shade(0.6), g.label)
        else:
            cv.fabric([opening], inner.fabric, inner.label)
        for s in (-1, 1):
            cv.line(np.array([[s * a, nb - 0.1], [s * gap, roll], [s * gap, hem]]), g.fabric.shade(0.5), 0.02)
        return
    edge = neckline_edge(fig, g)
    # a strapless edge's ends lie under the arms: seam only the middle
    cv.line(edge[1:-1] if g.neckline in ("strapless", "sweetheart", "off_shoulder") else edge, seam, 0.02)
    if g.placket:
        cv.line(np.array([[0.0, nb + 0.1], [0.0, hem]]), seam, 0.02)
        for y in np.arange(nb + 0.3, hem - 0.1, 0.45):
            cv.poly(_ellipse(0.04, float(y), 0.035, 0.035, 6), seam, None)


def draw_sleeves(cv: Canvas, fig: Figure, g: Upper, hidden_arms: Sequence[int] = ()) -> None:
    """Sleeves along the arms to the sleeve-end fraction (DESIGN §6: lengths on landmarks)."""
    polys = upper_polygons(fig, g)["sleeves"]
    keep = [p for side, p in zip(sleeve_sides(g), polys) if side not in hidden_arms]
    cv.fabric(keep, g.fabric, g.label)
    for p in keep:
        cv.line(np.vstack([p, p[:1]]), g.fabric.shade(0.7), 0.012)


def draw_collar(cv: Canvas, fig: Figure, g: Upper) -> None:
    """Collar pieces at the neck: shirt points on a stand, flat round pieces (Peter Pan, or the
    larger Puritan), or a ribbed band along a round neckline."""
    nb, nw, s = fig.ly("neck_base"), fig.hw("neck"), g.collar_size
    fill = g.trim or (g.fabric.shade(1.15) if g.fabric.base[0] < 200 else g.fabric.shade(0.9))
    edge = g.fabric.shade(0.55)
    if g.collar == "shirt":
        stand = np.vstack([_arc(0.0, nb - 0.02, nw + 0.05, 0.16, math.pi, 2 * math.pi, 9),
                           _arc(0.0, nb + 0.03, nw + 0.02, 0.05, 0.0, math.pi, 7)])
        cv.poly(stand, fill, g.label, edge, 0.015)
        for side in (-1, 1):
            flap = np.array([[side * (nw + 0.07), nb - 0.1], [side * 0.015, nb + 0.06],
                             [side * 0.09, nb + 0.06 + s], [side * (nw + 0.16), nb + 0.02 + s * 0.45]])
            cv.poly(flap, fill, g.label, edge, 0.015)
    elif g.collar == "flat":
        # Peter Pan and Puritan share one shape; the radius tells them apart
        if s > 0.3 and g.trim is None and g.fabric.base[0] < 200:
            fill = (236, 234, 228)   # Puritan collars are often white
        for side in (-1, 1):
            rim = _arc(side * (s * 0.85 + 0.02), nb, s * 0.9 + 0.04, s * 0.85, 0.0, math.pi, 11)
            piece = np.vstack([[[side * 0.01, nb]], rim if side > 0 else rim[::-1],
                               [[side * (nw + 0.02), nb - 0.06]]])
            piece[:, 1] = np.maximum(piece[:, 1], nb - 0.06)   # it lies on the chest
            cv.poly(piece, fill, g.label, edge, 0.015)
    elif g.collar == "rib":
        a = _scoop_half_width(fig, g.neck_depth)
        ya, d_in = _shoulder_y(fig, a), max(g.neck_depth - s, 0.02)
        outer = _arc(0.0, ya, a, g.neck_depth, math.pi, 0.0, 13)
        inner = _arc(0.0, ya, a - s, d_in, 0.0, math.pi, 13)
        cv.poly(np.vstack([outer, inner]), g.trim or g.fabric.shade(0.8), g.label, edge, 0.01)
        for t in np.linspace(math.pi * 0.95, math.pi * 0.05, 14):   # the ribs, across the band
            cv.line(np.array([[a * math.cos(t), ya + g.neck_depth * math.sin(t)],
                              [(a - s) * math.cos(t), ya + d_in * math.sin(t)]]), edge, 0.008)


def draw_neck_band(cv: Canvas, fig: Figure, g: Upper) -> None:
    """Up the neck: a turtle or low turtle tube, or a frilled ruffle band; or, below it, the
    soft folds of a draped (cowl) collar."""
    nb, nw, h = fig.ly("neck_base"), fig.hw("neck") * 1.18, g.neck_size
    fill, edge = g.fabric.shade(0.92), g.fabric.shade(0.55)
    top = nb - h
    if g.neck == "height":
        cv.poly(np.array([[-nw, top], [nw, top], [nw * 1.08, nb + 0.04], [-nw * 1.08, nb + 0.04]]),
                fill, g.label, edge, 0.012)
        for y in np.arange(top + 0.07, nb, 0.08):   # the folds of a rolled collar
            cv.line(np.array([[-nw, y], [nw, y]]), edge, 0.008)
    elif g.neck == "ruffle":
        xs = np.linspace(-nw * 1.25, nw * 1.25, 11)
        frill = np.vstack([np.stack([xs, top + 0.04 * (np.arange(11) % 2)], axis=1),
                           [[nw * 1.08, nb + 0.04], [-nw * 1.08, nb + 0.04]]])
        cv.poly(frill, fill, g.label, edge, 0.01)
        cv.line(np.array([[-nw, top + 0.09], [nw, top + 0.09]]), edge, 0.008)
    elif g.neck == "drape":
        for i, t in enumerate(np.linspace(0.25, 1.0, 3)):
            arc = _arc(0.0, nb - 0.02, 0.3 + 0.15 * t, h * t, math.pi * 0.97, math.pi * 0.03, 13)
            cv.line(arc, g.fabric.shade(0.65 + 0.08 * i), 0.02)


def draw_lapels(cv: Canvas, fig: Figure, g: Upper) -> None:
    """Lapels of an open coat: notched (a collar and a lapel meeting in a notch), shawl (one
    smooth band, wider for plus-size); a collarless front has none."""
    if g.lapel in (None, "open"):
        return
    nb, a, roll, w = fig.ly("neck_base"), fig.hw("neck") + 0.05, fig.y(g.opening), g.lapel_size
    fill, edge = g.trim or g.fabric.shade(0.88), g.fabric.shade(0.5)
    for side in (-1, 1):
        if g.lapel == "notch":
            gorge = nb + 0.3
            collar = np.array([[side * (a - 0.02), nb - 0.1], [side * (a + 0.12), nb - 0.05],
                               [side * (a + w + 0.08), gorge - 0.02], [side * (a + 0.08), gorge + 0.02]])
            lapel = np.array([[side * (a + 0.06), gorge + 0.04], [side * (a + w + 0.14), gorge - 0.06],
                              [side * (a + w + 0.1), gorge + 0.25], [side * 0.02, roll]])
            cv.poly(collar, fill, g.label, edge, 0.012)
            cv.poly(lapel, fill, g.label, edge, 0.012)
        else:
            t = np.linspace(0.0, 1.0, 12)
            inner = np.stack([side * (a * (1 - t) + 0.02 * t), nb - 0.08 + (roll - nb + 0.08) * t], axis=1)
            bulge = w * np.sin(np.pi * np.minimum(t * 1.1, 1.0)) + 0.04
            outer = inner + np.stack([side * bulge * 1.4, np.full_like(t, 0.04)], axis=1)
            cv.poly(np.vstack([inner, outer[::-1]]), fill, g.label, edge, 0.012)


def draw_prop(cv: Canvas, p: Prop) -> None:
    """A scarf knotted at the neck (LIP 11), hair swept to the front (LIP 2) or a bag
    (background: LIP has no class for it)."""
    cx, cy = p.centre
    w, h = p.size
    if p.kind == "scarf":
        cv.poly(_ellipse(cx, cy, w * 0.6, h * 0.35, 14), p.colour, LIP["scarf"])
        tail = np.array([[cx - 0.15, cy], [cx + 0.12, cy], [cx + 0.2, cy + h * 1.6],
                         [cx - 0.1, cy + h * 1.7]])
        cv.poly(tail, _darker(p.colour, 0.85), LIP["scarf"])
    elif p.kind == "hair":
        for s in (-1, 1):
            strand = np.array([[s * 0.15, 0.6], [s * 0.42, 0.7], [s * 0.5, cy + h * 0.7], [s * 0.3, cy + h],
                               [s * 0.02, cy + h * 0.3], [s * 0.02, 1.0]])
            cv.poly(strand, p.colour, LIP["hair"])
    else:
        c, s = math.cos(p.angle), math.sin(p.angle)
        rot = np.array([[c, -s], [s, c]])
        corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
        body = corners @ rot.T + [cx, cy]
        handle = _arc(0.0, -h / 2, w * 0.3, h * 0.35, math.pi, 2 * math.pi, 9) @ rot.T + [cx, cy]
        cv.line(handle, _darker(p.colour, 0.7), 0.05)
        cv.poly(body, p.colour, LIP["background"], _darker(p.colour, 0.7), 0.02)


def draw_scene(cv: Canvas, scene: Scene) -> None:
    """Everything, back to front: hair behind, legs and shoes, trunk and head, lower garment,
    upper garments (inner first), arms, sleeves, neck details and lapels, props, face."""
    fig = scene.figure
    if not scene.flat:
        draw_back_hair(cv, fig)
        draw_legs(cv, fig)
        draw_shoes(cv, fig)
        draw_trunk(cv, fig)
        draw_head(cv, fig)
    if scene.lower is not None:
        cv.fabric(lower_polygons(fig, scene.lower), scene.lower.fabric, scene.lower.label)
        if scene.lower.label == LIP["pants"]:   # the fly seam
            cv.line(np.array([[0.0, fig.ly("waist") + 0.15], [0.0, fig.ly("crotch")]]),
                    scene.lower.fabric.shade(0.6), 0.015)
    inner = None
    for g in scene.uppers:
        draw_garment_body(cv, fig, g, inner, flat=scene.flat)
        if g.collar:
            draw_collar(cv, fig, g)
        if g.neck:
            draw_neck_band(cv, fig, g)
        inner = g
    if not scene.flat:
        draw_arms(cv, fig, scene.hide_arms)
    sleeved = [g for g in scene.uppers if g.sleeve is not None and g.sleeve > 0]
    if sleeved and not scene.fold_sleeves:   # only the outermost sleeves show
        draw_sleeves(cv, fig, sleeved[-1], scene.hide_arms)
    for g in scene.uppers:
        draw_lapels(cv, fig, g)
    for p in scene.props:
        draw_prop(cv, p)
    if not scene.flat:
        draw_face_features(cv, fig)


# ==============================================================================================
# Camera, light, the whole image
# ==============================================================================================

def _camera(scene: Scene, w: int, h: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """The 2x3 body-to-pixel matrix and pixels per head height for the scene's framing."""
    fr = scene.framing
    if scene.flat:
        x0, y0, x1, y1 = garment_extent(scene)
        cut = fr.cut_top is not None or fr.cut_bottom is not None or fr.cut_sides
        if fr.cut_bottom is not None:
            y1 = min(y1, fr.cut_bottom - rng.uniform(0.4, 1.0))
        if fr.cut_top is not None:
            y0 = max(y0, fr.cut_top)
        if fr.cut_sides:
            half = rng.uniform(0.45, 0.6)
            x0, x1, y1 = -half, half, min(y1, scene.figure.ly("waist"))
        margin = rng.uniform(0.04, 0.16)
        bw, bh = (x1 - x0) * (1 + 2 * margin), (y1 - y0) * (1 + 2 * margin)
        # a cut frame is filled edge to edge, so that what lies beyond it is out of the picture
        scale = max(w / bw, h / bh) if cut else min(w / bw, h / bh)
        cx, cy = (x0 + x1) / 2 + rng.normal(0, 0.04) * bw, (y0 + y1) / 2 + rng.normal(0, 0.04) * bh
        if fr.cut_bottom is not None:
            cy = y1 - h / scale / 2
        elif fr.cut_top is not None:
            cy = y0 + h / scale / 2
    else:
        scale = h / (fr.bottom - fr.top)
        cx, cy = fr.x, (fr.top + fr.bottom) / 2
        if fr.tight:
            scale = max(scale, w / (2 * scene.figure.hw("shoulder") * 0.8))
        if fr.need is not None:
            nx0, ny0, nx1, ny1 = fr.need
            half = max(abs(nx0), abs(nx1))
            scale = min(scale, w / (2 * half + 0.3), h / max(ny1 - ny0, 1e-3))
            cy = max(cy, ny1 - h / scale / 2)
            view = w / scale / 2
            cx = min(max(cx, half - view), view - half) if view > half else 0.0
    c, s = math.cos(scene.rotation) * scale, math.sin(scene.rotation) * scale
    m = np.array([[c, -s, 0.0], [s, c, 0.0]])
    m[:, 2] = np.array([w / 2, h / 2]) - m[:, :2] @ np.array([cx, cy])
    return m, scale


def apply_light(img: Image.Image, mask: Image.Image, scene: Scene,
                rng: np.random.Generator) -> Image.Image:
    """Directional light, a soft cast shadow on the backdrop, and sensor noise."""
    a = np.array(img, dtype=np.float32)   # a copy, changed in place below
    h, w = a.shape[:2]
    m = np.asarray(mask)
    grad, bright, noise = scene.light
    xs = np.linspace(-1, 1, w, dtype=np.float32)
    ys = np.linspace(-1, 1, h, dtype=np.float32)
    light = bright * (1 + grad * xs[None, :]) * (1 - 0.08 * ys[:, None] ** 2)
    # the blurred silhouette, shifted down and sideways, darkens the backdrop (cast shadow)
    sil = Image.fromarray(((m > 0) * 255).astype(np.uint8))
    small = sil.resize((max(1, w // 10), max(1, h // 10)), Image.BILINEAR)
    blur = np.asarray(small.resize((w, h), Image.BILINEAR), dtype=np.float32) / 255.0
    shift = (int(rng.integers(2, 9) * h / 256), int(rng.integers(-6, 7) * w / 256))
    shade = 1 - 0.28 * np.roll(blur, shift, axis=(0, 1)) * (m == 0)
    a *= (light * shade)[..., None]
    # luminance noise only: a third of the cost of noise per channel
    a += rng.standard_normal((h, w, 1), dtype=np.float32) * np.float32(noise)
    np.clip(a, 0, 255, out=a)
    return Image.fromarray(a.astype(np.uint8))


def render_image(seed: int, task_index: int, index: int,
                 size: int) -> tuple[Image.Image, Image.Image, Scene]:
    """Image ``index`` of task ``TASKS[task_index]``: the RGB image, its LIP mask ('L'), both
    ``size`` px high (the long side), and the scene it was drawn from."""
    scene = sample_scene(seed, task_index, index)
    # a second stream for the drawing's own randomness, so that scenes stay cheap to sample
    rng = np.random.default_rng(np.random.SeedSequence([seed, task_index, index, 1]))
    H, W = size, max(16, int(round(size * scene.aspect)))
    ss = 2 if size < SUPERSAMPLE_BELOW else 1
    w, h = W * ss, H * ss
    matrix, scale = _camera(scene, w, h, rng)
    floor_px = float((matrix @ np.array([0.0, scene.figure.ly("floor"), 1.0]))[1])
    bg = draw_background(scene.backdrop, w, h, rng, flat=scene.flat, floor_px=floor_px)
    cv = Canvas(w, h, matrix, bg, scale, ss)
    draw_scene(cv, scene)
    img = cv.img.reduce(ss) if ss > 1 else cv.img
    mask = cv.mask.resize((W, H), Image.NEAREST) if ss > 1 else cv.mask
    return apply_light(img, mask, scene, rng), mask, scene


# ==============================================================================================
# Writing and reading a data set
# ==============================================================================================

def image_name(seed: int, task: Task, index: int) -> str:
    """32 hex characters, like the real data's md5 file names."""
    return hashlib.md5(f"{seed}/{task.key}/{index}".encode()).hexdigest()


def labels_string(task: Task, value: int, maybe: int | None) -> str:
    """The label column: 'y' at the value, 'm' at an ambiguous neighbour, 'n' elsewhere."""
    chars = ["n"] * task.n_values
    chars[value] = "y"
    if maybe is not None:
        chars[maybe] = "m"
    return "".join(chars)


_Row = tuple[int, int, str, str, bool]   # task index, image index, image path, labels, flat


def _render_job(job: tuple[str, int, int, int, int]) -> _Row:
    """Render one image, write it and its mask; the row for the CSVs."""
    out, seed, task_index, index, size = job
    task = TASKS[task_index]
    img, mask, scene = render_image(seed, task_index, index, size)
    name = image_name(seed, task, index)
    rel = f"Images/{task.key}/{name}.jpg"
    img.save(Path(out) / rel, "JPEG", quality=scene.quality)
    mask.save(Path(out) / MASK_DIR / task.key / f"{name}.png", "PNG")
    return task_index, index, rel, labels_string(task, scene.value, scene.maybe), scene.flat


def _render_chunk(jobs: list) -> list[_Row]:
    return [_render_job(j) for j in jobs]


def _chunks(jobs: list, n: int) -> Iterator[list]:
    for i in range(0, len(jobs), n):
        yield jobs[i:i + n]


def generate(out: str | os.PathLike, *, images_per_task: int, seed: int = 0, size: int = 256,
             workers: int | None = None, progress: bool = True) -> dict:
    """Render the synthetic data set into ``out`` in the FashionAI layout (DESIGN §3, §6).

    Writes ``Annotations/label.csv`` (rows by task, then index), ``Images/<task>/<name>.jpg``,
    ``Truth/truth.csv``, ``Truth/masks/<task>/<name>.png`` and ``Truth/synthetic.json`` (the
    arguments). Files it owns are overwritten; nothing else in ``out`` is touched or deleted.
    ``label.csv`` is written last, so a folder that has one is complete. ``size`` is the long
    side in pixels; ``workers`` processes render in parallel (default: all cores) and any
    number gives the same bytes. Returns a summary: counts per task and value, flat share,
    ``m`` rate, seconds.
    """
    if images_per_task < 1:
        raise ValueError(f"images_per_task must be at least 1, got {images_per_task}")
    if size < 32:
        raise ValueError(f"size must be at least 32 px, got {size}")
    t0 = time.perf_counter()
    root = Path(out)
    for task in TASKS:
        (root / "Images" / task.key).mkdir(parents=True, exist_ok=True)
        (root / MASK_DIR / task.key).mkdir(parents=True, exist_ok=True)
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    jobs = [(str(root), seed, ti, i, size) for ti in range(len(TASKS)) for i in range(images_per_task)]
    workers = max(1, (os.cpu_count() or 1) if workers is None else workers)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs), desc="synthetic images", unit="img", file=sys.stderr)
    rows: list[_Row] = []
    if workers == 1:
        for job in jobs:
            rows.append(_render_job(job))
            if bar:
                bar.update(1)
    else:
        chunk = max(1, min(32, len(jobs) // (workers * 8)))
        # fork starts workers at once and they need nothing but this module
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ctx.Pool(workers) as pool:
            for part in pool.imap(_render_chunk, list(_chunks(jobs, chunk))):
                rows.extend(part)
                if bar:
                    bar.update(len(part))
    if bar:
        bar.close()
    rows.sort(key=lambda r: (r[0], r[1]))
    with open(root / TRUTH_CSV, "w", newline="", encoding="utf-8") as f:
        f.write("image,flat,mask\n")
        for ti, _, rel, _, flat in rows:
            name = rel.rsplit("/", 1)[1][:-len(".jpg")]
            f.write(f"{rel},{int(flat)},{MASK_DIR}/{TASKS[ti].key}/{name}.png\n")
    (root / PARAMS_JSON).write_text(json.dumps(
        {"generator": __name__, "format_version": FORMAT_VERSION, "seed": seed,
         "images_per_task": images_per_task, "size": size}, indent=1, sort_keys=True) + "\n")
    tmp = root / (LABEL_CSV + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        for ti, _, rel, labels, _ in rows:
            f.write(f"{rel},{TASKS[ti].key},{labels}\n")
    os.replace(tmp, root / LABEL_CSV)
    seconds = time.perf_counter() - t0
    counts = {t.key: [0] * t.n_values for t in TASKS}
    for ti, _, _, labels, _ in rows:
        counts[TASKS[ti].key][labels.index("y")] += 1
    n = len(rows)
    length_flat = [r[4] for r in rows if TASKS[r[0]].level == "length"]
    return {
        "root": str(root), "images": n, "size": size, "seed": seed, "counts": counts,
        "flat_share": round(sum(r[4] for r in rows) / n, 4),
        "flat_share_length": round(sum(length_flat) / len(length_flat), 4),
        "m_rate": round(sum("m" in r[3] for r in rows) / n, 4),
        "seconds": round(seconds, 2),
        "images_per_second": round(n / seconds, 1),
    }


class TruthError(ValueError):
    """A malformed ``Truth/truth.csv``; the message names the file and the line."""


def read_truth(root: str | os.PathLike) -> dict[str, dict]:
    """``Truth/truth.csv`` as ``{image path: {"flat": bool, "mask": Path}}``.

    The image path is as in ``label.csv``; the mask path is absolute (root joined). Raises
    FileNotFoundError when the file is missing and :class:`TruthError` (naming file and line)
    for a malformed one.
    """
    root = Path(root)
    path = root / TRUTH_CSV
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: only the embedded synthetic data set carries "
                                "a Truth/ folder (python -m replication synth)")
    out: dict[str, dict] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != ["image", "flat", "mask"]:
            raise TruthError(f"{path}, line 1: expected the header 'image,flat,mask', got {header!r}")
        for line, row in enumerate(reader, start=2):
            if len(row) != 3:
                raise TruthError(f"{path}, line {line}: expected 3 columns, got {len(row)}: {row!r}")
            image, flat, mask = row
            if flat not in ("0", "1"):
                raise TruthError(f"{path}, line {line}: flat must be 0 or 1, got {flat!r}")
            if not image.startswith("Images/") or not mask.startswith(MASK_DIR + "/") or ".." in mask:
                raise TruthError(f"{path}, line {line}: unexpected paths {image!r}, {mask!r}")
            if image in out:
                raise TruthError(f"{path}, line {line}: duplicate image {image!r}")
            out[image] = {"flat": flat == "1", "mask": root / mask}
    return out

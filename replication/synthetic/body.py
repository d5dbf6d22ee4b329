"""The figure (DESIGN §6, body): an artists' canon of 7.4-8.1 heads with its landmarks, limbs as
joint chains, and a sampled pose, skin and hair (:func:`make_figure`).

All geometry is in *body coordinates*: head heights, x to the person's left (the image's right,
since the figure faces the camera), y down from the crown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from replication.synthetic.palette import RGB, pick


# ==============================================================================================
# Proportions and landmarks (DESIGN §6: real proportions)
# ==============================================================================================

Box = tuple[float, float, float, float]
"""A box (x0, y0, x1, y1) in body coordinates."""

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

ELBOW_AT = LIMB_LENGTH["upper_arm"] / (LIMB_LENGTH["upper_arm"] + LIMB_LENGTH["forearm"])
"""Where the elbow falls on the sleeve-end scale (shoulder joint 0, wrist 1)."""


# ==============================================================================================
# Pose and looks
# ==============================================================================================

FIGURE_HEADS = (7.4, 8.1)
FIGURE_WIDTH = (0.9, 1.1)
ARM_SPREAD_DEG = {False: (6.0, 26.0), True: (22.0, 45.0)}
"""Upper arm angle from the vertical: worn (False) or laid out flat (True)."""
ELBOW_BEND_DEG = {False: (-14.0, 22.0), True: (-4.0, 6.0)}
LEG_SPREAD_DEG = {False: (0.0, 7.0), True: (1.5, 5.0)}
HAIR_STYLES: tuple[tuple[str, float], ...] = (("short", 0.2), ("bob", 0.25), ("long", 0.45), ("bun", 0.1))

SKIN_TONES: tuple[RGB, ...] = (
    (255, 224, 196), (241, 194, 160), (224, 172, 135), (198, 140, 100), (160, 108, 72),
    (112, 74, 50), (250, 210, 180), (232, 190, 160),
)
HAIR_COLOURS: tuple[RGB, ...] = (
    (25, 20, 18), (45, 32, 25), (80, 55, 35), (120, 85, 50), (180, 140, 90), (210, 180, 120),
    (60, 40, 35), (15, 15, 15),
)


# ==============================================================================================
# Joint chains: limbs, and the sleeves and pant legs cut along them
# ==============================================================================================

def cut_chain(pts: np.ndarray, half: np.ndarray, s0: float, s1: float) -> tuple[np.ndarray, np.ndarray]:
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


def chain_length(pts: np.ndarray) -> float:
    """Arc length of a joint chain."""
    return float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())


def chain_y(chain: np.ndarray, s: float) -> float:
    """Height of the point at arc length s along a chain."""
    pts, _ = cut_chain(chain, np.zeros(len(chain)), 0.0, s)
    return float(pts[-1, 1])


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
        return max(chain_y(a, max(f, 0.0) * self.arm_reach()) for a in self.arms.values())

    def pant_end_y(self, f: float) -> float:
        return max(chain_y(leg, f * self.leg_reach()) for leg in self.legs.values())


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
        hair_style=pick(rng, HAIR_STYLES), hair_len=float(rng.uniform(2.0, 3.3)),
    )

"""Polygons in body coordinates (DESIGN §6): arcs, ellipses, bands along polylines, and the
garment outlines, pure functions of figure and garment that serve both to draw and to frame."""

from __future__ import annotations

import math

import numpy as np

from replication.data.truth import LIP
from replication.synthetic.body import LIMB_HALF, Box, Figure, cut_chain
from replication.synthetic.garments import SLEEVE_HEAD, Lower, Upper
from replication.synthetic.sampling import Scene


# ==============================================================================================
# Polygon primitives
# ==============================================================================================

def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 12) -> np.ndarray:
    """Points on an ellipse from angle a0 to a1 (radians; y grows downwards)."""
    t = np.linspace(a0, a1, n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 20) -> np.ndarray:
    return arc(cx, cy, rx, ry, 0.0, 2 * math.pi, n)[:-1]


def thick_polyline(pts: np.ndarray, half: np.ndarray) -> np.ndarray:
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


# ==============================================================================================
# Garment outlines
# ==============================================================================================

def shoulder_y(fig: Figure, x: float) -> float:
    """The sloping shoulder line from the neck base to the shoulder tip."""
    nw, sw = fig.hw("neck"), fig.hw("shoulder")
    t = min(max((abs(x) - nw) / max(sw - nw, 1e-6), 0.0), 1.2)
    return fig.ly("neck_base") + t * (fig.ly("shoulder") - fig.ly("neck_base"))


def scoop_half_width(fig: Figure, depth: float, straight: bool = False) -> float:
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
        return np.array([[-tip, shoulder_y(fig, tip) + d * 0.3], [-nw - 0.04, nb + 0.02],
                         [0.1, nb + 0.4 + d], [aw, top_y]])
    if kind == "v":
        a = nw + 0.06
        inner = np.array([[-a, shoulder_y(fig, a)], [0.0, nb + d], [a, shoulder_y(fig, a)]])
    elif kind == "square":
        a = nw + 0.14
        ya = shoulder_y(fig, a)
        inner = np.array([[-a, ya], [-a * 0.92, nb + d], [a * 0.92, nb + d], [a, ya]])
    elif kind == "high":
        inner = arc(0.0, nb - 0.04, nw + 0.03, d + 0.04, math.pi, 0.0, 9)
    else:  # round, straight
        a = scoop_half_width(fig, d, straight=kind == "straight")
        inner = arc(0.0, shoulder_y(fig, a), a, d, math.pi, 0.0, 13)
    tip = max(tip, float(abs(inner[0, 0])) + 0.08)
    return np.vstack([[[-tip, shoulder_y(fig, tip)]], inner, [[tip, shoulder_y(fig, tip)]]])


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
    back = np.vstack([[[-shoulder_x, shoulder_y(fig, shoulder_x)]],
                      arc(0.0, fig.ly("neck_base") - 0.02, fig.hw("neck") + 0.05, 0.1, math.pi, 0.0, 9),
                      [[shoulder_x, shoulder_y(fig, shoulder_x)], [0.5, fig.ly("bust") + 0.6],
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
            pts, hw = cut_chain(fig.arms[side], half_w + 0.02, start, g.sleeve * reach)
            if start < 0:
                hw[0] *= 0.45
            sleeves.append(thick_polyline(pts, hw))
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
        pts, hwid = cut_chain(fig.legs[side], half, -0.1, g.end * fig.leg_reach())
        polys.append(thick_polyline(pts, hwid))
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
    if scene.presentation in ("mannequin", "hanger"):   # the form's neck or the hanger's hook
        top = fig.ly("waist") - 0.5 if not scene.uppers else HOOK_TOP if scene.presentation == "hanger" else 0.85
        pts.append(np.array([[0.0, top]]))
    allp = np.vstack(pts)
    return float(allp[:, 0].min()), float(allp[:, 1].min()), float(allp[:, 0].max()), float(allp[:, 1].max())


HOOK_TOP = 0.45
"""Where a hanger's hook ends above an upper garment, in head heights from the crown."""

ATTRIBUTE_REGION: dict[str, tuple[float, float, float]] = {
    "neck": (0.45, 0.5, 0.6),      # a turtle neck's top to a cowl's lowest fold
    "lapel": (0.7, 0.15, 1.1),     # collar, notch and the upper lapels to below the gorge
}
"""Where a design attribute is seen (paper §4.2: the regions that other dimensions overlap):
half-width, and height above and below the neck base, in head heights (for width factor 1)."""


def attribute_region(fig: Figure, short: str) -> Box:
    """The box (x0, y0, x1, y1) in body coordinates where the ``neck`` or ``lapel`` attribute
    is seen (:data:`ATTRIBUTE_REGION`)."""
    half, above, below = ATTRIBUTE_REGION[short]
    nb = fig.ly("neck_base")
    return (-half * fig.wf, nb - above, half * fig.wf, nb + below)

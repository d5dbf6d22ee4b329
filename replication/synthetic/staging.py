"""How a garment is staged (:mod:`.mechanisms`): a flat-lay on a dress form, on a hanger or held
up by a hand (points 1), and what falls over part of a neck or lapel region: a strand of long
hair or a draped scarf (point 3). Drawn in body coordinates on the :class:`.canvas.Canvas`.

A dress form and a hanger are background in the part mask (LIP has no class for them and they
are not a person); the holding arm is an arm (LIP 14/15), a strand of hair is hair (LIP 2) and a
scarf is a scarf (LIP 11)."""

from __future__ import annotations

import math

import numpy as np

from replication.data.truth import LIP
from replication.synthetic.body import Figure
from replication.synthetic.canvas import ARM_LABEL, Canvas
from replication.synthetic.geometry import HOOK_TOP, arc, ellipse, shoulder_y, thick_polyline
from replication.synthetic.palette import darker
from replication.synthetic.sampling import Prop, Scene

POLE = (40, 40, 44)
"""A dress form's stand."""


def _band(cv: Canvas, pts: list[tuple[float, float]], half: list[float], colour, label) -> None:
    cv.poly(thick_polyline(np.array(pts, dtype=float), np.array(half, dtype=float)), colour, label)


def draw_mannequin(cv: Canvas, fig: Figure, scene: Scene) -> None:
    """A dress form behind the garment: a neck stub, a shoulder-capped torso and a stand for a top
    or a dress; a hip form with leg forms for pants or a skirt. Background in the mask."""
    colour, shade = scene.form_colour, darker(scene.form_colour, 0.8)
    nb, nw = fig.ly("neck_base"), fig.hw("neck")
    crotch = fig.ly("crotch")
    if scene.uppers:
        right = [(fig.hw("shoulder") * 0.92, fig.ly("shoulder") + 0.05)] + [
            (fig.hw(n), fig.ly(n)) for n in ("armpit", "waist", "hip")] + [(fig.hw("hip") * 0.9, crotch)]
        torso = np.array([(-nw * 1.1, nb), (nw * 1.1, nb)] + right + [(-x, y) for x, y in right[::-1]])
        cv.poly(np.array([[-0.04, crotch], [0.04, crotch], [0.04, crotch + 5.0], [-0.04, crotch + 5.0]]),
                POLE, None)
        cv.poly(torso, colour, None)
        for side in (-1, 1):   # rounded shoulder caps where the arms would be
            cv.poly(ellipse(side * fig.hw("shoulder") * 0.9, fig.ly("shoulder") + 0.18, 0.16, 0.2, 12),
                    colour, None)
        cv.poly(np.array([[-nw, 0.88], [nw, 0.88], [nw * 1.1, nb + 0.05], [-nw * 1.1, nb + 0.05]]),
                colour, None)
        cv.poly(ellipse(0.0, 0.88, nw, 0.05, 12), shade, None)   # the neck's cut top
        return
    waist = fig.ly("waist")
    hips = np.array([(-fig.hw("waist") * 0.95, waist - 0.5), (fig.hw("waist") * 0.95, waist - 0.5),
                     (fig.hw("waist"), waist), (fig.hw("hip"), fig.ly("hip")), (fig.hw("hip") * 0.9, crotch),
                     (-fig.hw("hip") * 0.9, crotch), (-fig.hw("hip"), fig.ly("hip")), (-fig.hw("waist"), waist)])
    for side in (-1, 1):
        leg = fig.legs[side]
        _band(cv, [tuple(leg[0]), tuple(leg[1]), tuple(leg[2])],
              [0.34 * fig.wf, 0.18 * fig.wf, 0.11 * fig.wf], colour, None)
    cv.poly(hips, colour, None)
    cv.poly(ellipse(0.0, waist - 0.5, fig.hw("waist") * 0.95, 0.06, 12), shade, None)


def draw_hanger_bar(cv: Canvas, fig: Figure, scene: Scene) -> None:
    """The hanger's bar inside the garment (drawn before it: it shows only where the garment is
    open, as through a strapless top)."""
    if not scene.uppers:
        return
    x = fig.hw("shoulder") * 0.85
    pts = [(-x, shoulder_y(fig, x) + 0.08), (0.0, fig.ly("neck_base") + 0.02), (x, shoulder_y(fig, x) + 0.08)]
    _band(cv, pts, [0.035, 0.045, 0.035], scene.form_colour, None)


def draw_hanger_hook(cv: Canvas, fig: Figure, scene: Scene) -> None:
    """The hanger's neck and hook above the garment; for pants or a skirt, a clip bar along the
    waistband. Background in the mask."""
    colour = scene.form_colour
    if scene.uppers:
        base, top = fig.ly("neck_base") - 0.02, HOOK_TOP + 0.14
    else:
        waist = fig.ly("waist") + 0.05
        half = fig.hw("waist") * 1.15
        cv.poly(np.array([[-half, waist - 0.07], [half, waist - 0.07], [half, waist], [-half, waist]]),
                colour, None, darker(colour, 0.6), 0.01)
        for side in (-1, 1):
            cv.poly(np.array([[side * half, waist - 0.1], [side * (half - 0.12), waist - 0.1],
                              [side * (half - 0.12), waist + 0.12], [side * half, waist + 0.12]]),
                    darker(colour, 0.85), None)
        base, top = waist - 0.07, waist - 0.45
    cv.line(np.array([[0.0, base], [0.0, top]]), colour, 0.03)
    cv.line(arc(0.09, top, 0.09, 0.11, math.pi, 2.0 * math.pi + 0.7, 12), colour, 0.03)


def draw_holding_arm(cv: Canvas, fig: Figure, scene: Scene) -> None:
    """A hand holding the garment at a shoulder (a top) or at the waistband (pants, a skirt), its
    forearm and upper arm reaching in from beyond the frame. An arm (LIP 14/15) in the mask."""
    side, angle, reach = scene.hold
    if scene.uppers:
        x = fig.hw("shoulder") * 0.9
        grip = np.array([side * x, shoulder_y(fig, x) + 0.05])
    else:
        grip = np.array([side * fig.hw("waist"), fig.ly("waist") + 0.12])
    out = np.array([side * math.sin(angle), -math.cos(angle)])
    bend = np.array([side * math.sin(angle * 0.6), -math.cos(angle * 0.6)])
    elbow = grip + out * 1.3 * fig.k
    pts = [tuple(grip), tuple(grip + out * 0.25), tuple(elbow), tuple(elbow + bend * reach)]
    half = [0.08, 0.09, 0.13, 0.2]
    _band(cv, pts, [h * fig.wf for h in half], fig.skin, ARM_LABEL[side])
    cv.poly(ellipse(float(grip[0]), float(grip[1]), 0.1 * fig.wf, 0.12 * fig.wf, 10), fig.skin, ARM_LABEL[side])
    for k in range(3):   # fingers curled over the cloth
        y = float(grip[1]) + (k - 1) * 0.05
        cv.line(np.array([[grip[0] - 0.07, y], [grip[0] + 0.07, y]]), darker(fig.skin, 0.8), 0.01)


def draw_overlap(cv: Canvas, fig: Figure, p: Prop) -> None:
    """A strand of long hair falling over one shoulder (LIP hair), or a long scarf around the
    neck with its ends hanging down the front, the longer on ``p.side`` (LIP scarf)."""
    x, nb = p.centre
    width, length = p.size
    if p.kind == "strand":
        pts = [(p.side * 0.3, 0.6), (x, nb - 0.05), (x + p.side * p.angle * 0.5, nb + 0.5 * length),
               (x + p.side * p.angle, nb + length)]
        _band(cv, pts, [width * 0.3, width * 0.5, width * 0.45, width * 0.2], p.colour, LIP["hair"])
        cv.line(np.array(pts[1:]) + [p.side * width * 0.15, 0.0], darker(p.colour, 0.75), 0.012)
        return
    nw = fig.hw("neck")
    # the loop behind the neck shows above the shoulders
    _band(cv, [(-nw - 0.1, nb - 0.05), (0.0, nb - 0.18), (nw + 0.1, nb - 0.05)], [width * 0.4] * 3,
          darker(p.colour, 0.8), LIP["scarf"])
    for s in (-1, 1):
        end = length if s == p.side else length * 0.6
        x_end = abs(x) + p.angle if s == p.side else nw + 0.1
        pts = [(s * (nw + 0.05), nb - 0.08), (s * (nw + 0.08), nb + 0.2), (s * x_end, nb + end)]
        _band(cv, pts, [width * 0.45, width * 0.5, width * 0.5], p.colour, LIP["scarf"])

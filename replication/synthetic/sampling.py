"""The scene of one image (DESIGN §6): the value it shows, flat-lay or on-model, the figure, its
garments, props and framing, how value 0 (Invisible) comes about, the ``m`` label of a rendering
near the border between two values, and the nuisance drawn with the scene. A scene depends only
on ``(seed, task, index)``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from replication.data.tasks import TASKS, Task
from replication.synthetic import mechanisms as mech
from replication.synthetic.body import CANON_Y, SKIN_TONES, Box, Figure, make_figure
from replication.synthetic.garments import (
    COLLAR_SHAPE, COLLAR_SLEEVE, COLLAR_SLEEVE_P, DESIGN_PARAM, LAPEL_HEM, LAPEL_SHAPE, LENGTH_PARAM,
    NECK_SHAPE, NECKLINE_SHAPE, VALUE_WEIGHTS, Fabric, Lower, Upper, plain_neckline, random_coat,
    random_fabric, random_lower, random_top, random_trim,
)
from replication.synthetic.palette import RGB, darker, pick, random_colour


# ==============================================================================================
# How often things happen
# ==============================================================================================

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

HANGER_COLOURS: tuple[RGB, ...] = ((150, 105, 60), (30, 30, 32), (240, 240, 236), (175, 178, 185))
"""Wood, black plastic, white plastic, chrome."""

DESIGN_KEEP = (0.8, 0.5, 1.2)
"""What a design close-up keeps in frame under a wide camera: half-width, and height above and
below the neck base, in head heights (the neckline, collar, neck band and upper lapels)."""


# ==============================================================================================
# Nuisance drawn with the scene
# ==============================================================================================

JPEG_QUALITY = (75, 95)
ASPECTS: tuple[tuple[float, float], ...] = ((1.0, 0.5), (0.75, 0.3), (0.875, 0.2))
"""(width / height, probability): square like most FashionAI images, else 3:4 or 7:8."""

BACKDROPS: dict[bool, tuple[tuple[str, float], ...]] = {
    # flat-lays are mostly shot on a plain light ground; models in a studio, a room or outdoors
    True: (("studio", 0.7), ("floor", 0.2), ("clutter", 0.1)),
    False: (("studio", 0.55), ("floor", 0.25), ("clutter", 0.2)),
}


# ==============================================================================================
# Props, framing, the scene
# ==============================================================================================

@dataclass
class Prop:
    """Something in front: a scarf knotted at the neck (LIP 11), hair swept forward (LIP 2), a
    bag (background); or a partial overlap of a neck or lapel region (:mod:`.mechanisms`): a
    strand of hair over one shoulder (``strand``, LIP 2) or a draped scarf (``stole``, LIP 11)."""

    kind: str                    # scarf, hair, bag, strand, stole
    centre: tuple[float, float]
    size: tuple[float, float]
    colour: RGB
    angle: float = 0.0
    side: int = 1                # strand and stole: the side (+1 the person's left) it falls on


@dataclass
class Camera:
    """How the camera departs from the scene's usual framing (:mod:`.mechanisms`, point 2).

    ``sample_scene`` draws it; ``render_image`` replaces it by what was realised (a wide draw
    that would push what must stay in frame out of it is scaled back towards the usual one)."""

    rotation: float = 0.0        # radians
    wide: bool = False
    zoom: float = 1.0            # the subject's size against the usual framing
    shift: tuple[float, float] = (0.0, 0.0)   # offset of the subject, share of width and height


@dataclass
class Light:
    """Light on the scene: a left-right gradient, brightness, sensor noise (grey levels), and in
    wide light (:mod:`.mechanisms`, point 2) contrast and a colour cast (gain per channel)."""

    gradient: float = 0.0
    brightness: float = 1.0
    noise: float = 2.0
    wide: bool = False
    contrast: float = 1.0
    cast: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass
class Framing:
    """What the camera shows, in body coordinates."""

    x: float = 0.0               # on-model: horizontal centre of the view
    top: float = 0.0             # on-model: top and bottom of the view
    bottom: float = 8.5
    need: Box | None = None      # on-model: a box (x0, y0, x1, y1) that must stay in frame
    keep: Box | None = None      # on-model close-up: what a wide camera must keep in frame
    hides: bool = False          # the frame hides the attribute on purpose (Invisible)
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
    camera: Camera = field(default_factory=Camera)
    backdrop: str = "studio"
    light: Light = field(default_factory=Light)
    quality: int = 90
    aspect: float = 1.0
    presentation: str = "worn"        # worn (on-model); laid, mannequin, hanger, held (flat-lay)
    form_colour: RGB = (238, 236, 232)   # a dress form's or a hanger's colour
    hold: tuple[int, float, float] = (1, 0.8, 4.0)   # held: side, angle from vertical, reach
    skin_print: bool = False          # the task's garment is skin-toned
    overlap: str = "none"             # what lies over part of a neck or lapel region
    matrix: np.ndarray | None = None  # body -> output pixels, set by render_image


# ==============================================================================================
# 'm' labels: renderings near the border between two values
# ==============================================================================================

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


# ==============================================================================================
# Dressing the figure for each task
# ==============================================================================================

def _bag(rng: np.random.Generator, centre: tuple[float, float], w: float, h: float) -> Prop:
    return Prop("bag", centre, (w, h), random_colour(rng), float(rng.uniform(-0.2, 0.2)))


def _neck_cover(rng: np.random.Generator, fig: Figure) -> Prop:
    """A scarf knotted at the neck, or long hair swept to the front."""
    neck = fig.ly("neck_base")
    if rng.random() < 0.6:
        return Prop("scarf", (float(rng.uniform(-0.1, 0.1)), neck + 0.15),
                    (float(rng.uniform(0.55, 0.75)), float(rng.uniform(0.4, 0.6))), random_colour(rng))
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
    mode = pick(rng, INVISIBLE_MODES[short]) if v == 0 else ""
    is_dress = rng.random() < 0.35
    up = random_top(rng, label=6 if is_dress else 5)
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
            up.trim = random_trim(rng, 0.45)
            up.placket = v == 1 or rng.random() < 0.3
            if up.collar == "rib":
                up.neckline, up.neck_depth = "round", float(rng.uniform(0.12, 0.22))
            if rng.random() < COLLAR_SLEEVE_P:
                up.sleeve = float(rng.uniform(*COLLAR_SLEEVE[v]))
        elif mode == "absent":
            up.neckline, up.neck_depth = plain_neckline(rng)
    elif short == "neck":
        up.neckline, up.neck_depth = "high", 0.05
        if v:
            up.neck_size, maybe = sample_param(rng, DESIGN_PARAM["neck"], v)
            up.neck = NECK_SHAPE[v]
            if up.neck == "drape":
                up.neckline, up.neck_depth = "round", 0.3
        elif mode == "absent":                    # an open neckline: nothing up the neck
            up.neckline, up.neck_depth = plain_neckline(rng)
            if up.neckline == "high":
                up.neckline, up.neck_depth = "v", float(rng.uniform(0.3, 0.7))
    elif short == "lapel":
        coat = random_coat(rng, float(rng.uniform(*LAPEL_HEM[v])))
        coat.sleeve, coat.placket = float(rng.uniform(0.8, 1.1)), False
        coat.opening = float(rng.uniform(2.4, 3.2))
        up.label, up.sleeve = 5, None
        uppers.append(coat)
        if v:
            coat.lapel_size, maybe = sample_param(rng, DESIGN_PARAM["lapel"], v)
            coat.lapel = LAPEL_SHAPE[v]
            coat.trim = random_trim(rng, 0.3)
            coat.open_front = True
            if v == 2:
                coat.opening = float(CANON_Y["neck_base"] + 0.6 + coat.lapel_size)
            if v == 1 and rng.random() < 0.5:     # suit jackets: dark solid cloth over a shirt
                coat.fabric.base, coat.fabric.texture = darker(coat.fabric.base, 0.4), "solid"
            if v != 1:
                up.neckline, up.neck_depth = plain_neckline(rng)
        elif mode == "absent":                    # a closed jacket: no lapels at all
            coat.placket = True
    lower = None if is_dress and short != "lapel" else random_lower(rng)

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
        framing.keep = (-DESIGN_KEEP[0], neck - DESIGN_KEEP[1], DESIGN_KEEP[0], neck + DESIGN_KEEP[2])
        if mode == "out_of_frame":
            framing.top = neck + float(rng.uniform(0.9, 1.5))
            framing.bottom = framing.top + float(rng.uniform(2.2, 3.5))
            framing.keep = None
        elif mode == "covered":
            props.append(_neck_cover(rng, fig))
    framing.hides = mode == "out_of_frame"
    return _Dressing(uppers, lower, props, framing, maybe)


def _dress_sleeve(rng: np.random.Generator, v: int, f: float | None, flat: bool, fig: Figure,
                  mode: str) -> _Dressing:
    """Sleeve length: a top, dress or coat; arms hanging by the body or sleeves laid out."""
    label = int(rng.choice([5, 6, 7], p=[0.55, 0.2, 0.25]))
    up = random_top(rng, label=label)
    if label == 7:
        up.hem = float(rng.uniform(3.5, 6.0))
    up.sleeve = f if f is not None else float(rng.uniform(0.3, 1.1))
    if up.sleeve < 0.0 and up.neckline == "high":
        up.neckline = "round"
    lower = None if label == 6 else random_lower(rng)
    d = _Dressing([up], lower, [], Framing(hides=mode == "out_of_frame"))
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
        d.framing.need, d.framing.tight, d.framing.hides = None, True, True
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
        inner = random_top(rng, label=int(rng.choice([5, 6], p=[0.7, 0.3])))
        coat = random_coat(rng, p if p is not None else float(rng.uniform(3.0, 7.5)))
        coat.open_front = bool(rng.random() < 0.6)
        if coat.open_front:
            coat.lapel = str(rng.choice(["notch", "shawl", "open"]))
            coat.lapel_size = float(rng.uniform(0.1, 0.25))
        if inner.label == 6:
            inner.hem = float(rng.uniform(4.5, 7.6))
        uppers, lower = [inner, coat], (None if inner.label == 6 else random_lower(rng))
        y_end = fig.y(coat.hem)
    elif short == "skirt":
        top = random_top(rng, label=5)
        hem = p if p is not None else float(rng.uniform(4.6, 8.0))
        if rng.random() < 0.55:
            lower = Lower(label=12, fabric=random_fabric(rng), end=hem, flare=float(rng.uniform(0.04, 0.35)))
            top.hem = float(rng.uniform(3.0, 3.7))
        else:                                     # a dress: its hem is the skirt length
            lower = None
            top.label, top.hem, top.flare = 6, hem, float(rng.uniform(0.06, 0.35))
        uppers = [top]
        y_end = fig.y(hem)
    else:  # pant
        end = p if p is not None else float(rng.uniform(0.1, 1.1))
        uppers = [random_top(rng, label=5, hem=float(rng.uniform(3.0, 3.9)))]
        lower = Lower(label=9, fabric=random_fabric(rng), end=end, ease=float(rng.uniform(1.05, 1.4)),
                      flare=float(rng.uniform(0.0, 0.15)))
        y_end = fig.pant_end_y(end)
    d = _Dressing(uppers, lower, [], Framing(hides=mode == "out_of_frame"))
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
    d.framing = Framing(x=float(rng.uniform(-0.3, 0.3)), top=top, bottom=float(bottom), need=need,
                        hides=mode == "out_of_frame")
    return d


# ==============================================================================================
# The scene of one image
# ==============================================================================================

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def value_of(seed: int, task_index: int, index: int) -> int:
    """The value image ``index`` shows. A golden-ratio sequence through the cumulative
    VALUE_WEIGHTS, started at a point drawn from (seed, task): any run of indices follows the
    weights closely, so even a small set has every value, Invisible included."""
    start = np.random.default_rng(np.random.SeedSequence([seed, task_index])).random()
    weights = np.array(VALUE_WEIGHTS[TASKS[task_index].short], dtype=float)
    u = (start + index * _GOLDEN) % 1.0
    return min(int(np.searchsorted(np.cumsum(weights) / weights.sum(), u, side="right")), len(weights) - 1)


def _skin_print(rng: np.random.Generator, fabric: Fabric) -> None:
    """A nude or beige cloth, or a print whose second colour is a skin tone (:mod:`.mechanisms`)."""
    tone = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]
    tone = tuple(int(min(255, c * f)) for c, f in zip(tone, rng.uniform(0.93, 1.05, 3)))
    if rng.random() < 0.5:
        fabric.base = tone  # type: ignore[assignment]
    else:
        fabric.second = tone  # type: ignore[assignment]
        if fabric.texture == "solid":
            fabric.texture = "print"


def _add_overlap(rng: np.random.Generator, kind: str, fig: Figure, uppers: list[Upper],
                 props: list[Prop]) -> None:
    """Put ``kind`` (:data:`.mechanisms.OVERLAP_KINDS`) over part of the neck or lapel region."""
    side = int(rng.choice([-1, 1]))
    nb = fig.ly("neck_base")
    if kind == "hair":       # long hair falling forward over one shoulder
        fig.hair_style = "long"
        props.append(Prop("strand", (side * float(rng.uniform(0.26, 0.36)), nb),
                          (float(rng.uniform(0.16, 0.24)), float(rng.uniform(1.0, 1.6))),
                          fig.hair, float(rng.uniform(-0.15, 0.2)), side))
    elif kind == "scarf":    # a long scarf around the neck, its ends down the front
        props.append(Prop("stole", (side * float(rng.uniform(0.18, 0.3)), nb),
                          (float(rng.uniform(0.14, 0.22)), float(rng.uniform(1.0, 1.8))),
                          random_colour(rng), float(rng.uniform(0.0, 0.25)), side))
    elif kind == "jacket":   # an open jacket over a neck design
        coat = random_coat(rng, float(rng.uniform(3.2, 4.4)))
        coat.open_front, coat.placket = True, False
        coat.opening = float(rng.uniform(2.4, 3.2))
        coat.lapel = str(rng.choice(["notch", "shawl", "open"]))
        coat.lapel_size = float(rng.uniform(0.1, 0.22))
        uppers.append(coat)
    else:                    # collar_under: the top under the jacket shows a collar or a neck band
        inner = uppers[0]
        inner.neckline, inner.neck_depth = "high", 0.08
        if rng.random() < 0.5:
            inner.collar, inner.collar_size = "shirt", float(rng.uniform(*DESIGN_PARAM["collar"][1][1:]))
        else:
            inner.neck, inner.neck_size = "height", float(rng.uniform(0.12, 0.35))


def _draw_camera(rng: np.random.Generator, flat: bool) -> Camera:
    """The usual small rotation, or at :data:`.mechanisms.CAMERA_WIDE_P` a wide camera."""
    narrow = float(rng.normal(0, 0.05 if flat else 0.02))
    if rng.random() >= mech.CAMERA_WIDE_P:
        return Camera(rotation=narrow)
    lo, hi = np.log(mech.WIDE_ZOOM)
    return Camera(rotation=math.radians(float(rng.uniform(-1, 1)) * mech.WIDE_ROTATION_DEG),
                  wide=True, zoom=float(np.exp(rng.uniform(lo, hi))),
                  shift=(float(rng.uniform(-1, 1)) * mech.WIDE_SHIFT,
                         float(rng.uniform(-1, 1)) * mech.WIDE_SHIFT))


def _draw_light(rng: np.random.Generator) -> Light:
    """The usual light, or at :data:`.mechanisms.LIGHT_WIDE_P` wide light."""
    gradient, noise = float(rng.uniform(-0.15, 0.15)), float(rng.uniform(1, 5))
    if rng.random() >= mech.LIGHT_WIDE_P:
        return Light(gradient, float(rng.uniform(0.9, 1.08)), noise)
    cast = rng.uniform(1 - mech.WIDE_CAST, 1 + mech.WIDE_CAST, 3)
    return Light(gradient, float(rng.uniform(*mech.WIDE_BRIGHTNESS)), noise, wide=True,
                 contrast=float(rng.uniform(*mech.WIDE_CONTRAST)),
                 cast=(float(cast[0]), float(cast[1]), float(cast[2])))


def sample_scene(seed: int, task_index: int, index: int) -> Scene:
    """The scene of image ``index`` of task ``TASKS[task_index]``; depends on nothing else."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, task_index, index]))
    task = TASKS[task_index]
    v = value_of(seed, task_index, index)
    flat = bool(rng.random() < FLAT_SHARE[task.level])
    presentation = pick(rng, mech.FLAT_PRESENTATIONS) if flat else "worn"
    # a garment on a dress form, a hanger or in a hand hangs as if worn: only a garment laid
    # out has its sleeves spread
    fig = make_figure(rng, flat=presentation == "laid")
    if task.level == "design":
        d = _dress_design(rng, task, v, flat, fig)
    else:
        mode = pick(rng, INVISIBLE_MODES[task.short]) if v == 0 else ""
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
    # the garment the task is about: the lower one for skirt and pant, else the outermost top
    subject = (d.lower if task.short in ("skirt", "pant") and d.lower is not None
               else d.uppers[-1])
    skin_print = bool(rng.random() < mech.SKIN_PRINT_P)
    if skin_print:
        _skin_print(rng, subject.fabric)
    overlap = "none"
    if rng.random() < mech.OVERLAP_P.get(task.short, 0.0):
        kinds = mech.OVERLAP_KINDS[task.short][flat]
        overlap = kinds[int(rng.integers(len(kinds)))]
        _add_overlap(rng, overlap, fig, d.uppers, d.props)
    form_colour: RGB = mech.MANNEQUIN_COLOURS[0]
    hold = (1, 0.8, 4.0)
    if presentation == "mannequin":
        form_colour = (SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]
                       if rng.random() < mech.MANNEQUIN_SKIN_P
                       else mech.MANNEQUIN_COLOURS[int(rng.integers(len(mech.MANNEQUIN_COLOURS)))])
    elif presentation == "hanger":
        form_colour = HANGER_COLOURS[int(rng.integers(len(HANGER_COLOURS)))]
    elif presentation == "held":
        hold = (int(rng.choice([-1, 1])), float(rng.uniform(0.35, 1.2)), 6.0)
    return Scene(
        task=task, value=v, maybe=d.maybe, flat=flat, figure=fig, uppers=d.uppers, lower=d.lower,
        props=d.props, framing=d.framing, hide_arms=d.hide_arms, fold_sleeves=d.fold_sleeves,
        camera=_draw_camera(rng, flat),
        backdrop=pick(rng, BACKDROPS[flat]),
        light=_draw_light(rng),
        quality=int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)),
        aspect=float(rng.choice([a for a, _ in ASPECTS], p=[q for _, q in ASPECTS])),
        presentation=presentation, form_colour=form_colour, hold=hold, skin_print=skin_print,
        overlap=overlap,
    )

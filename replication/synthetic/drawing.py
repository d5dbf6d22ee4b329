"""Drawing a scene (DESIGN §6): backdrops, one ``draw_*`` function per part of the figure and the
garments, :func:`draw_scene` (which adds the staging of :mod:`.staging`), and
:func:`render_image`, which turns ``(seed, task, index, size)`` into an image and its mask through
the canvas (:mod:`.canvas`), the camera and the light (:mod:`.camera`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from replication.data.truth import LIP
from replication.synthetic import staging
from replication.synthetic.body import Figure, chain_length, cut_chain
from replication.synthetic.camera import apply_light, place_camera
from replication.synthetic.canvas import ARM_LABEL, LEG_LABEL, NECK_LABEL, SHOE_LABEL, TRUNK_SKIN_LABEL, Canvas
from replication.synthetic.garments import BARE_SHOULDER_NECKLINES, Upper
from replication.synthetic.geometry import (
    arc, ellipse, lower_polygons, neckline_edge, scoop_half_width, shoulder_y, sleeve_sides,
    thick_polyline, upper_polygons,
)
from replication.synthetic.palette import RGB, darker
from replication.synthetic.sampling import Prop, Scene, sample_scene


# ==============================================================================================
# Nuisance of the drawing
# ==============================================================================================

SUPERSAMPLE_BELOW = 400
"""Images with a smaller long side are drawn at twice the size and reduced (anti-aliasing)."""

STUDIO_GREY: dict[bool, tuple[float, float]] = {True: (200.0, 250.0), False: (160.0, 250.0)}
"""Grey level of a studio backdrop, for flat-lays (True) and on-model photos (False)."""
OTHER_GREY = (150.0, 250.0)
"""Grey level of floors, walls and clutter."""


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
            colour = darker(_random_light(rng, *OTHER_GREY), rng.uniform(0.6, 1.0))
            (d.rectangle if rng.random() < 0.5 else d.ellipse)(box, fill=colour)
        # out of focus, as a shallow depth of field renders a real background
        out = out.resize((max(1, w // 8), max(1, h // 8)), Image.BILINEAR).resize((w, h), Image.BILINEAR)
    return out


def draw_back_hair(cv: Canvas, fig: Figure) -> None:
    """Long hair falls behind the shoulders: drawn first, so that the body covers it."""
    if fig.hair_style != "long":
        return
    bottom = fig.y(fig.hair_len)
    pts = np.vstack([arc(0.0, 0.5, 0.46, 0.55, math.pi, 2 * math.pi, 9),
                     [[0.5, 1.2], [0.62, bottom], [-0.62, bottom], [-0.5, 1.2]]])
    cv.poly(pts, fig.hair, LIP["hair"])


def draw_legs(cv: Canvas, fig: Figure) -> None:
    """Legs from the hip joints to the ankles (LIP 16/17)."""
    for side in (+1, -1):
        leg = fig.legs[side]
        pts, hw = cut_chain(leg, fig.leg_half(), 0.0, chain_length(leg[:3]))
        cv.poly(thick_polyline(pts, hw), fig.skin, LEG_LABEL[side])


def draw_shoes(cv: Canvas, fig: Figure) -> None:
    """Front-view shoes: a rounded toe box below each ankle, turned a little outwards (LIP 18/19)."""
    colour = (30, 28, 30) if fig.hair[0] < 60 else (120, 80, 60)
    for side in (+1, -1):
        ankle = fig.legs[side][2]
        cv.poly(ellipse(float(ankle[0] + side * 0.06), float(ankle[1] + 0.2 * fig.k), 0.17 * fig.wf,
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
    cv.poly(arc(0.0, 0.92, nw, 0.12, 0.0, math.pi, 7), darker(fig.skin, 0.85), NECK_LABEL)
    for side in (+1, -1):
        # the top of the upper arm lies under a garment's shoulder: drawn here, before the
        # garments, so that straps stay on top; draw_arms continues it after the garments
        arm = fig.arms[side]
        pts, hw = cut_chain(arm, fig.arm_half(), 0.0, 0.3 * fig.arm_reach())
        cv.poly(thick_polyline(pts, hw), fig.skin, ARM_LABEL[side])
        cap = ellipse(float(arm[0, 0]), float(arm[0, 1]), float(hw[0]), 0.13, 12)
        cv.poly(cap, fig.skin, ARM_LABEL[side])


def draw_head(cv: Canvas, fig: Figure) -> None:
    """The face (LIP 13) and the hair on the head (LIP 2)."""
    cv.poly(ellipse(0.0, 0.52, 0.35, 0.5, 20), fig.skin, LIP["face"])
    side_y = 0.55 if fig.hair_style == "short" else 0.9
    cap = np.vstack([arc(0.0, 0.5, 0.4, 0.56, math.pi * 1.05, math.pi * 1.95, 12),
                     [[0.36, side_y], [0.3, 0.3], [-0.1, 0.22], [-0.33, 0.35], [-0.36, side_y]]])
    cv.poly(cap, fig.hair, LIP["hair"])
    if fig.hair_style == "bun":
        cv.poly(ellipse(0.0, -0.1, 0.2, 0.16, 12), fig.hair, LIP["hair"])


def draw_face_features(cv: Canvas, fig: Figure) -> None:
    """Eyes, brows and mouth: tiny marks that tell a face at a glance (image only)."""
    for s in (-1, 1):
        cv.poly(ellipse(s * 0.14, 0.52, 0.05, 0.03, 8), darker(fig.skin, 0.35), None)
        cv.line(np.array([[s * 0.08, 0.44], [s * 0.2, 0.43]]), fig.hair, 0.02)
    cv.line(np.array([[-0.08, 0.8], [0.08, 0.8]]), (170, 70, 80), 0.025)


def draw_arms(cv: Canvas, fig: Figure, hidden: Sequence[int]) -> None:
    """Arms from below the shoulder cap to the fingertips (LIP 14/15), over the garment body."""
    for side in (+1, -1):
        if side in hidden:
            continue
        arm = fig.arms[side]
        pts, hw = cut_chain(arm, fig.arm_half(), 0.12 * fig.arm_reach(), chain_length(arm))
        cv.poly(thick_polyline(pts, hw), fig.skin, ARM_LABEL[side])
        hand = ellipse(float(arm[3, 0]), float(arm[3, 1] - 0.08), 0.09, 0.12, 8)
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
            cv.poly(ellipse(0.04, float(y), 0.035, 0.035, 6), seam, None)


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
        stand = np.vstack([arc(0.0, nb - 0.02, nw + 0.05, 0.16, math.pi, 2 * math.pi, 9),
                           arc(0.0, nb + 0.03, nw + 0.02, 0.05, 0.0, math.pi, 7)])
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
            rim = arc(side * (s * 0.85 + 0.02), nb, s * 0.9 + 0.04, s * 0.85, 0.0, math.pi, 11)
            piece = np.vstack([[[side * 0.01, nb]], rim if side > 0 else rim[::-1],
                               [[side * (nw + 0.02), nb - 0.06]]])
            piece[:, 1] = np.maximum(piece[:, 1], nb - 0.06)   # it lies on the chest
            cv.poly(piece, fill, g.label, edge, 0.015)
    elif g.collar == "rib":
        a = scoop_half_width(fig, g.neck_depth)
        ya, d_in = shoulder_y(fig, a), max(g.neck_depth - s, 0.02)
        outer = arc(0.0, ya, a, g.neck_depth, math.pi, 0.0, 13)
        inner = arc(0.0, ya, a - s, d_in, 0.0, math.pi, 13)
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
            fold = arc(0.0, nb - 0.02, 0.3 + 0.15 * t, h * t, math.pi * 0.97, math.pi * 0.03, 13)
            cv.line(fold, g.fabric.shade(0.65 + 0.08 * i), 0.02)


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
        cv.poly(ellipse(cx, cy, w * 0.6, h * 0.35, 14), p.colour, LIP["scarf"])
        tail = np.array([[cx - 0.15, cy], [cx + 0.12, cy], [cx + 0.2, cy + h * 1.6],
                         [cx - 0.1, cy + h * 1.7]])
        cv.poly(tail, darker(p.colour, 0.85), LIP["scarf"])
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
        handle = arc(0.0, -h / 2, w * 0.3, h * 0.35, math.pi, 2 * math.pi, 9) @ rot.T + [cx, cy]
        cv.line(handle, darker(p.colour, 0.7), 0.05)
        cv.poly(body, p.colour, LIP["background"], darker(p.colour, 0.7), 0.02)


def draw_scene(cv: Canvas, scene: Scene) -> None:
    """Everything, back to front: hair behind, legs and shoes, trunk and head (or a dress form or
    a hanger's bar), lower garment, upper garments (inner first), arms, sleeves, neck details
    and lapels, a hanger's hook, a holding hand, props and overlaps, face."""
    fig = scene.figure
    if not scene.flat:
        draw_back_hair(cv, fig)
        draw_legs(cv, fig)
        draw_shoes(cv, fig)
        draw_trunk(cv, fig)
        draw_head(cv, fig)
    elif scene.presentation == "mannequin":
        staging.draw_mannequin(cv, fig, scene)
    elif scene.presentation == "hanger":
        staging.draw_hanger_bar(cv, fig, scene)
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
    if scene.overlap == "collar_under":   # the inner top's collar shows inside the jacket's front
        under = scene.uppers[0]
        if under.collar:
            draw_collar(cv, fig, under)
        if under.neck:
            draw_neck_band(cv, fig, under)
    if not scene.flat:
        draw_arms(cv, fig, scene.hide_arms)
    sleeved = [g for g in scene.uppers if g.sleeve is not None and g.sleeve > 0]
    if sleeved and not scene.fold_sleeves:   # only the outermost sleeves show
        draw_sleeves(cv, fig, sleeved[-1], scene.hide_arms)
    for g in scene.uppers:
        draw_lapels(cv, fig, g)
    if scene.presentation == "hanger":
        staging.draw_hanger_hook(cv, fig, scene)
    elif scene.presentation == "held":
        staging.draw_holding_arm(cv, fig, scene)
    for p in scene.props:
        if p.kind in ("strand", "stole"):
            staging.draw_overlap(cv, fig, p)
        else:
            draw_prop(cv, p)
    if not scene.flat:
        draw_face_features(cv, fig)


# ==============================================================================================
# The whole image
# ==============================================================================================

def render_scene(scene: Scene, seed: int, task_index: int, index: int,
                 size: int) -> tuple[Image.Image, Image.Image, Scene]:
    """Draw ``scene`` (as :func:`.sampling.sample_scene` gives it for ``(seed, task_index,
    index)``): the RGB image, its LIP mask ('L'), both ``size`` px high (the long side), and the
    scene with its realised camera and its body-to-output-pixel ``matrix``."""
    # a second stream for the drawing's own randomness, so that scenes stay cheap to sample
    rng = np.random.default_rng(np.random.SeedSequence([seed, task_index, index, 1]))
    H, W = size, max(16, int(round(size * scene.aspect)))
    ss = 2 if size < SUPERSAMPLE_BELOW else 1
    w, h = W * ss, H * ss
    m, scale, scene.camera = place_camera(scene, w, h, rng)
    scene.matrix = m / ss
    floor_px = float((m @ np.array([0.0, scene.figure.ly("floor"), 1.0]))[1])
    bg = draw_background(scene.backdrop, w, h, rng, flat=scene.flat, floor_px=floor_px)
    cv = Canvas(w, h, m, bg, scale, ss)
    draw_scene(cv, scene)
    img = cv.img.reduce(ss) if ss > 1 else cv.img
    mask = cv.mask.resize((W, H), Image.NEAREST) if ss > 1 else cv.mask
    return apply_light(img, mask, scene, rng), mask, scene


def render_image(seed: int, task_index: int, index: int,
                 size: int) -> tuple[Image.Image, Image.Image, Scene]:
    """Image ``index`` of task ``TASKS[task_index]``: the RGB image, its LIP mask ('L'), both
    ``size`` px high (the long side), and the scene it was drawn from (:func:`render_scene`)."""
    return render_scene(sample_scene(seed, task_index, index), seed, task_index, index, size)

"""The camera and the light of a scene (DESIGN §6, nuisance; :mod:`.mechanisms`, point 2):
the body-to-pixel transform of the scene's usual framing, departed from by a wide camera
(rotation, zoom, offset) as far as what must stay in frame allows, and directional light, cast
shadow, wide light (brightness, contrast, colour cast) and sensor noise."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from replication.synthetic.body import Box
from replication.synthetic.geometry import garment_extent
from replication.synthetic.mechanisms import WIDE_ZOOM
from replication.synthetic.sampling import Camera, Scene

KEEP_TOLERANCE = 0.02
"""A wide camera may push what must stay in frame out of it by this share of the frame."""
WIDE_STEPS = (1.0, 0.5, 0.25, 0.0)
"""A wide draw that cannot keep what must stay in frame is scaled back by these factors, in turn."""


def usual_framing(scene: Scene, w: int, h: int,
                  rng: np.random.Generator) -> tuple[float, float, float, Box | None]:
    """The scene's usual framing: the body point at the frame's centre, pixels per head height,
    and the box (body coordinates) a wide camera must keep in frame (None: nothing, or the
    frame hides something on purpose and a wide camera may only zoom in)."""
    fr = scene.framing
    keep: Box | None
    if scene.flat:
        x0, y0, x1, y1 = keep = garment_extent(scene)
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
        keep = fr.need or fr.keep
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
    return cx, cy, scale, (None if fr.hides else keep)


def matrix(cx: float, cy: float, scale: float, cam: Camera, w: int, h: int) -> np.ndarray:
    """The 2x3 body-to-pixel matrix: body point (cx, cy) at the frame's centre moved by the
    camera's shift, ``scale * zoom`` pixels per head height, rotated by the camera's rotation."""
    c, s = math.cos(cam.rotation) * scale * cam.zoom, math.sin(cam.rotation) * scale * cam.zoom
    m = np.array([[c, -s, 0.0], [s, c, 0.0]])
    centre = np.array([w * (0.5 + cam.shift[0]), h * (0.5 + cam.shift[1])])
    m[:, 2] = centre - m[:, :2] @ np.array([cx, cy])
    return m


def cover_zoom(rotation: float, w: int, h: int) -> float:
    """The zoom at which a frame rotated by ``rotation`` about its centre sees only what the
    unrotated frame sees (so that a rotation never brings in what the frame hides)."""
    c, s = abs(math.cos(rotation)), abs(math.sin(rotation))
    return max(c + s * h / w, c + s * w / h)


def _max_zoom(cx: float, cy: float, scale: float, cam: Camera, keep: Box, w: int, h: int) -> float:
    """The largest zoom at which ``keep`` stays in frame (within :data:`KEEP_TOLERANCE`) for the
    camera's rotation and shift; 0 when no zoom does."""
    tol = KEEP_TOLERANCE * max(w, h)
    c, s = math.cos(cam.rotation) * scale, math.sin(cam.rotation) * scale
    centre = (w * (0.5 + cam.shift[0]), h * (0.5 + cam.shift[1]))
    best = math.inf
    x0, y0, x1, y1 = keep
    for qx, qy in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
        offset = (c * (qx - cx) - s * (qy - cy), s * (qx - cx) + c * (qy - cy))
        for a, b, size in ((centre[0], offset[0], w), (centre[1], offset[1], h)):
            if not -tol <= a <= size + tol:
                return 0.0
            if b > 1e-9:
                best = min(best, (size + tol - a) / b)
            elif b < -1e-9:
                best = min(best, (a + tol) / -b)
    return best


def place_camera(scene: Scene, w: int, h: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, float, Camera]:
    """The 2x3 body-to-pixel matrix, pixels per head height, and the camera as realised.

    A usual camera keeps its small rotation. A wide one (:mod:`.mechanisms`) keeps what must stay
    in frame: it zooms out as far as that needs and, where even that cannot help, scales its
    rotation and shift back (:data:`WIDE_STEPS`). Where the frame hides something on purpose
    (an Invisible value out of frame) a wide camera does not shift and zooms in at least as much
    as its rotation needs to bring nothing new into the picture."""
    cx, cy, scale, keep = usual_framing(scene, w, h, rng)
    cam = scene.camera
    if cam.wide and scene.framing.hides:
        cam = Camera(cam.rotation, True, max(cam.zoom, cover_zoom(cam.rotation, w, h)), (0.0, 0.0))
    elif cam.wide and keep is not None:
        for t in WIDE_STEPS:
            trial = Camera(cam.rotation * t, True, 1.0, (cam.shift[0] * t, cam.shift[1] * t))
            most = _max_zoom(cx, cy, scale, trial, keep, w, h)
            if t == 0.0:   # the usual framing: what it shows, a wide camera may only zoom out of
                trial.zoom = min(cam.zoom, max(most, 1.0))
                break
            if most >= WIDE_ZOOM[0]:   # it fits at a zoom the wide camera draws from
                trial.zoom = min(cam.zoom, most)
                break
        cam = trial
    return matrix(cx, cy, scale, cam, w, h), scale * cam.zoom, cam


def apply_light(img: Image.Image, mask: Image.Image, scene: Scene,
                rng: np.random.Generator) -> Image.Image:
    """Directional light, a soft cast shadow on the backdrop, wide light's contrast and colour
    cast, and sensor noise."""
    a = np.array(img, dtype=np.float32)   # a copy, changed in place below
    h, w = a.shape[:2]
    m = np.asarray(mask)
    light = scene.light
    xs = np.linspace(-1, 1, w, dtype=np.float32)
    ys = np.linspace(-1, 1, h, dtype=np.float32)
    field = light.brightness * (1 + light.gradient * xs[None, :]) * (1 - 0.08 * ys[:, None] ** 2)
    # the blurred silhouette, shifted down and sideways, darkens the backdrop (cast shadow)
    sil = Image.fromarray(((m > 0) * 255).astype(np.uint8))
    small = sil.resize((max(1, w // 10), max(1, h // 10)), Image.BILINEAR)
    blur = np.asarray(small.resize((w, h), Image.BILINEAR), dtype=np.float32) / 255.0
    shift = (int(rng.integers(2, 9) * h / 256), int(rng.integers(-6, 7) * w / 256))
    shade = 1 - 0.28 * np.roll(blur, shift, axis=(0, 1)) * (m == 0)
    if light.wide:   # contrast around the image's mean grey, then a gain per channel
        mean = np.float32(a.mean())
        a -= mean
        a *= np.float32(light.contrast)
        a += mean
        a *= np.asarray(light.cast, dtype=np.float32)
    a *= (field * shade)[..., None]
    # luminance noise only: a third of the cost of noise per channel
    a += rng.standard_normal((h, w, 1), dtype=np.float32) * np.float32(light.noise)
    np.clip(a, 0, 255, out=a)
    return Image.fromarray(a.astype(np.uint8))

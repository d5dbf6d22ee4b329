"""The paper's own difficulties, rendered at stated rates (DESIGN §6; issue 10, point 5).

Some claims of the paper rest on properties of the real photographs that a plain synthetic set
lacks, so that on it they would pass or fail by construction. Each such property is a *mechanism*
here: something the renderer puts into a stated share of the images, drawn per image from the
seeded generator independently of the label, the same way for every image (the split into
training and validation images is made later, by the package, so both splits get the same
shares). Each rate is a constant below whose docstring says the rate and why; none was tuned
toward a verdict: they were set before any model was trained on the data they make, and a
learnability bound that broke would lower a mechanism's strength, never move the bound.

Every image records which mechanisms it got in ``Truth/truth.csv``
(:data:`replication.data.truth.MECHANISM_COLUMNS`), so that a test and chapter 01 can count them
(:func:`shares`).

1. **Flat-lays that fool a human parser** (paper §3.2: stage 1, JPPNet, left "a large number" of
   flat-lays among its on-model images; stage 2 re-screens them). A flat-lay is laid out
   (``laid``), dressed on a dress form (``mannequin``, skin-toned at :data:`MANNEQUIN_SKIN_P`),
   hung on a hanger (``hanger``), or held up by a hand and forearm reaching in from the frame's
   edge (``held``): :data:`FLAT_PRESENTATIONS`. The truth keeps every one of them a flat-lay
   (``flat = 1``). In the part mask a mannequin and a hanger are background (they are not a
   person); the holding arm is an arm (LIP 14/15), because it is one. Independently, the
   garment an image is about has a skin-toned colour or print at :data:`SKIN_PRINT_P`, on
   flat-lays and on-model images alike.
2. **Variation that augmentation can help with** (paper §3.1.2 (3): augmentation gave "a large
   gain"). A share :data:`CAMERA_WIDE_P` of the images gets a wide camera (rotation up to
   :data:`WIDE_ROTATION_DEG`, zoom in :data:`WIDE_ZOOM`, the subject off centre by up to
   :data:`WIDE_SHIFT` of the frame), a share :data:`LIGHT_WIDE_P` wide light (brightness
   :data:`WIDE_BRIGHTNESS`, contrast :data:`WIDE_CONTRAST`, a colour cast of up to
   :data:`WIDE_CAST` per channel); the rest keep the narrow spread of a tidy catalogue shoot.
3. **Why lapel and neck are harder** (paper §4.2: their AP is lower "because the regions they
   are recognised in often overlap the regions of other dimensions"). A share :data:`OVERLAP_P`
   of the neck and lapel images has something over part of the attribute's region
   (:func:`replication.synthetic.geometry.attribute_region`): long hair falling forward over one
   shoulder, a scarf draped around the neck, an open jacket over a neck design (its lapels and
   fronts cover the neck band's base), or, under a lapel, the inner garment's collar or neck band
   (another dimension's detail in the lapel's region): :data:`OVERLAP_KINDS`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

# ==============================================================================================
# 1. Flat-lays that fool a human parser (paper §3.2)
# ==============================================================================================

FLAT_PRESENTATIONS: tuple[tuple[str, float], ...] = (
    ("laid", 0.6), ("mannequin", 0.15), ("hanger", 0.15), ("held", 0.1))
"""How a flat-lay is presented, with its probability (per flat-lay image).

40 % of the flat-lays are not laid out: the paper says stage 1 left "a large number" (大量) of
flat-lays among its on-model images but gives no count, and no public count of FashionAI's
photo types exists. 40 % makes that group large (about 16 % of the length-level images, a third
of what stage 1 would call on-model if it were fooled by all of them) while most flat-lays stay
laid out, as in the earlier renderer. The split among the three follows shop photography:
dress forms and hangers are common, a hand holding the garment rarer. Rates stated, not tuned."""

MANNEQUIN_SKIN_P = 0.5
"""Share of dress forms in a skin tone (the rest white, grey, black or navy). Display forms come
in both; a skin-toned form's neck and shoulders look like skin to a parser, a neutral one only
has a body's shape: half and half gives the parser both kinds of trouble."""

MANNEQUIN_COLOURS: tuple[tuple[int, int, int], ...] = (
    (238, 236, 232), (150, 150, 152), (34, 34, 38), (40, 48, 78))
"""The neutral dress forms: white, grey, black, navy."""

SKIN_PRINT_P = 0.08
"""Share of images whose garment (the one the task is about) is skin-toned: a nude or beige
cloth (half of them) or a print whose second colour is a skin tone. Drawn on every image, flat-lay
or on-model alike, so that skin-toned cloth tells nothing about the domain. 8 %: nude and beige
are one colour family among a dozen common ones; stated, not tuned."""


# ==============================================================================================
# 2. Variation that augmentation can help with (paper §3.1.2 (3))
# ==============================================================================================

CAMERA_WIDE_P = 0.3
"""Share of images shot with a wide camera (the rest: the tidy framing of the earlier renderer,
rotation of a few degrees, the subject centred). 30 %: a minority of images, so that a small
training set holds few of each tilt, zoom and offset, while augmentation can make more."""

WIDE_ROTATION_DEG = 15.0
"""A wide camera's rotation is uniform in +-15 degrees: a little beyond the paper's source
augmentation's +-10, so that augmentation helps without covering everything."""
WIDE_ZOOM = (0.7, 1.1)
"""A wide camera's zoom (log-uniform): 0.7 shows the subject at 70 % of its usual size; above 1
it fills more of the frame, as far as what must stay in frame allows."""
WIDE_SHIFT = 0.12
"""A wide camera moves the subject off centre by up to 12 % of the frame in each direction (the
source augmentation translates by up to 10-12 %)."""

LIGHT_WIDE_P = 0.3
"""Share of images in wide light (the rest: brightness 0.9-1.08, no contrast change or cast).
30 %, drawn independently of the camera, for the same reason as :data:`CAMERA_WIDE_P`."""
WIDE_BRIGHTNESS = (0.65, 1.3)
"""Wide light's brightness factor (uniform)."""
WIDE_CONTRAST = (0.7, 1.25)
"""Wide light's contrast factor around the image's mean (uniform)."""
WIDE_CAST = 0.12
"""Wide light's colour cast: each channel's gain is uniform in 1 +- 0.12 (the source
augmentation's hue and saturation change is of a similar size)."""


# ==============================================================================================
# 3. Lapel and neck regions overlapped (paper §4.2)
# ==============================================================================================

OVERLAP_P: dict[str, float] = {"neck": 0.4, "lapel": 0.4}
"""Share of the neck and lapel images with something over part of the attribute's region,
whatever the value (Invisible included). Neckline and collar get none: the paper names lapel and
neck as the dimensions whose regions overlap others'. 40 %: lapels are on jackets worn over a
top, and neck designs sit where hair and outer layers fall, so overlap is common; most images
still show the attribute clearly. Stated, not tuned."""

OVERLAP_KINDS: dict[str, dict[bool, tuple[str, ...]]] = {
    # task -> flat-lay? -> the kinds drawn, with equal probability
    "neck": {False: ("hair", "scarf", "jacket"), True: ("scarf",)},
    "lapel": {False: ("hair", "scarf", "collar_under"), True: ("scarf",)},
}
"""What overlaps: ``hair`` (long hair falling forward over one shoulder, LIP hair), ``scarf``
(a long scarf draped around the neck, its ends hanging down the front, LIP scarf), ``jacket``
(an open jacket over a neck design, LIP coat) and ``collar_under`` (the top under a jacket shows
a collar or neck band inside the lapels). A flat-lay has no hair and shows one garment, so only a
scarf laid over it."""

OVERLAP_LABELS: dict[str, tuple[str, ...]] = {
    "hair": ("hair",), "scarf": ("scarf",), "jacket": ("coat",), "collar_under": ("upper_clothes",)}
"""The LIP classes (names of :data:`replication.data.truth.LIP`) an overlap is drawn with."""


# ==============================================================================================
# Counting them
# ==============================================================================================

BINOMIAL_Z = 3.0
"""A count agrees with a rate when it lies within this many binomial standard deviations of
``n * rate``: a right rate fails by chance about once in 370 seeded counts, while on a thousand
images a rate of 10 % read as 5 % or 15 % fails."""


def within_binomial(count: int, n: int, rate: float, z: float = BINOMIAL_Z) -> bool:
    """Whether ``count`` of ``n`` agrees with ``rate`` (:data:`BINOMIAL_Z` standard deviations)."""
    return abs(count - n * rate) <= z * math.sqrt(max(n * rate * (1.0 - rate), 1e-12))


PRESENTATION_NAMES = {"mannequin": "flat-lay on a dress form", "hanger": "flat-lay on a hanger",
                      "held": "flat-lay held by a hand"}


def expected() -> list[dict]:
    """Each mechanism's stated rate and the images it is drawn over, read from the constants:
    ``{"name", "mechanism", "value", "rate", "among", "column"}`` (``among``: ``all``, ``flat``,
    or a task's short name; ``value``: the presentation counted, else empty)."""
    out = [{"name": PRESENTATION_NAMES[name], "mechanism": "flat-lay presentation", "value": name,
            "rate": p, "among": "flat", "column": "presentation"}
           for name, p in FLAT_PRESENTATIONS if name != "laid"]
    out.append({"name": "skin-toned garment", "mechanism": "skin-toned garment", "value": "",
                "rate": SKIN_PRINT_P, "among": "all", "column": "skin_print"})
    out.append({"name": "wide camera", "mechanism": "wide camera", "value": "",
                "rate": CAMERA_WIDE_P, "among": "all", "column": "camera_wide"})
    out.append({"name": "wide light", "mechanism": "wide light", "value": "",
                "rate": LIGHT_WIDE_P, "among": "all", "column": "light_wide"})
    out += [{"name": f"{short} region overlapped", "mechanism": "region overlapped", "value": "",
             "rate": p, "among": short, "column": "overlap"} for short, p in OVERLAP_P.items()]
    return out


def shares(truth: Mapping[str, Mapping], tasks: Mapping[str, str]) -> list[dict]:
    """Each mechanism's count in a rendered set against its stated rate.

    ``truth``: :func:`replication.data.truth.read_truth`'s records; ``tasks``: image -> the
    task's short name. One row per :func:`expected` entry, with ``count``, ``n`` (the images it
    is drawn over), ``share`` and ``agrees`` (:func:`within_binomial`). Raises KeyError when the
    truth has no mechanism columns (a set rendered before them)."""
    rows = []
    for e in expected():
        pool: Iterable[Mapping] = [t for image, t in truth.items()
                                   if e["among"] == "all"
                                   or (e["among"] == "flat" and t["flat"])
                                   or tasks[image] == e["among"]]
        pool = list(pool)
        value = e["value"]
        if e["column"] == "overlap":
            count = sum(t["overlap"] != "none" for t in pool)
        elif e["column"] == "presentation":
            count = sum(t["presentation"] == value for t in pool)
        else:
            count = sum(bool(t[e["column"]]) for t in pool)
        n = len(pool)
        rows.append({**e, "count": count, "n": n, "share": count / n if n else float("nan"),
                     "agrees": within_binomial(count, n, e["rate"]) if n else None})
    return rows


def labels_of(record: Mapping) -> list[str]:
    """The mechanisms one truth record shows, as the names :func:`examples` groups by."""
    out = []
    if record["presentation"] not in ("worn", "laid"):
        out.append(f"flat-lay: {record['presentation']}")
    if record["skin_print"]:
        out.append("skin-toned garment")
    if record["camera_wide"]:
        out.append("wide camera")
    if record["light_wide"]:
        out.append("wide light")
    if record["overlap"] != "none":
        out.append(f"overlap: {record['overlap']}")
    return out


def examples(truth: Mapping[str, Mapping], per_kind: int, rng) -> dict[str, list[str]]:
    """Up to ``per_kind`` images per mechanism (:func:`labels_of`), drawn with ``rng`` (a NumPy
    generator), in a fixed order of mechanisms: presentations, skin, camera, light, overlaps."""
    groups: dict[str, list[str]] = {}
    for image, record in truth.items():
        for label in labels_of(record):
            groups.setdefault(label, []).append(image)
    order = ([f"flat-lay: {p}" for p, _ in FLAT_PRESENTATIONS if p != "laid"]
             + ["skin-toned garment", "wide camera", "wide light"]
             + [f"overlap: {k}" for k in dict.fromkeys(k for kinds in OVERLAP_KINDS.values()
                                                       for both in kinds.values() for k in both)])
    out = {}
    for label in order:
        images = groups.get(label, [])
        if images:
            picks = rng.choice(len(images), size=min(per_kind, len(images)), replace=False)
            out[label] = [images[i] for i in sorted(picks)]
    return out

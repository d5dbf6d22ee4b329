"""Garments (DESIGN §6): every attribute value as a continuous length or shape parameter with a
range, the garment dataclasses, and everyday garments sampled with their usual cut."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from replication.synthetic.palette import RGB, darker, pick, random_colour


# ==============================================================================================
# Lengths on landmarks (index = position in the task's values)
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


# ==============================================================================================
# Design details as shape parameters
# ==============================================================================================

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


# ==============================================================================================
# Usual cuts, and how often each value is drawn
# ==============================================================================================

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


# ==============================================================================================
# Garments
# ==============================================================================================

TEXTURES: tuple[tuple[str, float], ...] = (
    ("solid", 0.46), ("stripes", 0.2), ("dots", 0.11), ("checks", 0.13), ("print", 0.1),
)

SLEEVE_HEAD = 0.05
"""A set-in sleeve starts this far (share of the arm) above the shoulder joint."""


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
        return darker(self.base, factor)


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


# ==============================================================================================
# Everyday garments, sampled
# ==============================================================================================

def random_fabric(rng: np.random.Generator) -> Fabric:
    angle = rng.choice([0.0, math.pi / 2, math.pi / 4, rng.uniform(0, math.pi)])
    return Fabric(base=random_colour(rng), second=random_colour(rng), texture=pick(rng, TEXTURES),
                  period=float(rng.uniform(0.08, 0.3)), angle=float(angle))


def random_trim(rng: np.random.Generator, p: float) -> RGB | None:
    """With probability p a contrasting collar or lapel colour: white, black or another."""
    if rng.random() >= p:
        return None
    kind = rng.random()
    if kind < 0.5:
        return (240, 238, 232)
    return (22, 22, 26) if kind < 0.7 else random_colour(rng)


def plain_neckline(rng: np.random.Generator) -> tuple[str, float]:
    """An everyday neckline for garments whose neckline is not the point."""
    kind = pick(rng, (("round", 0.45), ("v", 0.25), ("high", 0.2), ("square", 0.1)))
    depth = {"round": (0.12, 0.3), "v": (0.3, 0.8), "high": (0.05, 0.05), "square": (0.28, 0.45)}[kind]
    return kind, float(rng.uniform(*depth))


def _random_sleeve(rng: np.random.Generator) -> float:
    """A sleeve end drawn like the sleeve task's own value distribution."""
    w = np.array(VALUE_WEIGHTS["sleeve"][1:])
    v = 1 + int(rng.choice(len(w), p=w / w.sum()))
    return float(rng.uniform(*SLEEVE_END[v]))


def random_top(rng: np.random.Generator, *, label: int = 5, hem: float | None = None) -> Upper:
    """A top (LIP 5) or dress (LIP 6) with an everyday neckline and random sleeves."""
    kind, depth = plain_neckline(rng)
    if hem is None:
        hem = rng.uniform(3.2, 4.0) if label == 5 else rng.uniform(4.6, 7.4)
    return Upper(label=label, fabric=random_fabric(rng), hem=float(hem), neckline=kind, neck_depth=depth,
                 sleeve=_random_sleeve(rng), ease=float(rng.uniform(1.04, 1.14)),
                 flare=float(rng.uniform(0.02, 0.12) if label == 5 else rng.uniform(0.1, 0.3)),
                 sleeve_ease=float(rng.uniform(1.15, 1.45)))


def random_coat(rng: np.random.Generator, hem: float) -> Upper:
    """A coat or jacket (LIP 7), closed, with long sleeves."""
    return Upper(label=7, fabric=random_fabric(rng), hem=hem, sleeve=float(rng.uniform(0.75, 1.15)),
                 ease=float(rng.uniform(1.12, 1.25)), flare=float(rng.uniform(0.03, 0.2)),
                 neckline="high", neck_depth=0.06, opening=float(rng.uniform(2.4, 3.4)), placket=True,
                 front_gap=float(rng.uniform(0.08, 0.16)))


def random_lower(rng: np.random.Generator) -> Lower:
    """Everyday pants or a skirt of any length."""
    if rng.random() < 0.4:
        v = int(rng.integers(1, len(SKIRT_HEM) + 1))
        return Lower(label=12, fabric=random_fabric(rng), end=float(rng.uniform(*SKIRT_HEM[v])),
                     flare=float(rng.uniform(0.05, 0.35)))
    v = int(rng.integers(1, len(PANT_END) + 1))
    return Lower(label=9, fabric=random_fabric(rng), end=float(rng.uniform(*PANT_END[v])),
                 ease=float(rng.uniform(1.05, 1.35)), flare=float(rng.uniform(0.0, 0.12)))

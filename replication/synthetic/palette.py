"""Colours and weighted choices shared by the figure, the garments, the scenes and the drawing
(DESIGN §6, nuisance: garment colours are often muted, sometimes saturated, light to dark)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


# ==============================================================================================
# Colours and weighted choices
# ==============================================================================================

RGB = tuple[int, int, int]
"""A colour, 0-255 per channel."""


def pick(rng: np.random.Generator, table: Sequence[tuple[str, float]]) -> str:
    """A name from a table of (name, weight), drawn in proportion to the weights."""
    p = np.array([w for _, w in table], dtype=float)
    return table[int(rng.choice(len(table), p=p / p.sum()))][0]


def random_colour(rng: np.random.Generator) -> RGB:
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


def darker(c: RGB, f: float) -> RGB:
    """The colour with every channel scaled by f (below 1: darker)."""
    return tuple(int(v * f) for v in c)  # type: ignore[return-value]

"""The training schedule as data (paper §3.2, §3.3): stages of optimizer, rate, epochs and how
much of the base net trains. The paper's schedule is defined here once; the profiles
(:mod:`replication.book.profiles`) pass it, or their own, to :func:`replication.learning.training.train`
as plain dicts, the form a notebook parameter takes. Imports no deep-learning framework.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class Stage:
    """One stage of the schedule: a fresh optimizer for ``epochs`` epochs."""

    optimizer: str
    """``"adam"`` or ``"sgd"`` (Keras defaults otherwise; SGD without momentum, none is given)."""
    learning_rate: float
    epochs: int
    train_backbone: float = 1.0
    """Fraction of the base net's weighted layers, from the top, that train (0: frozen)."""

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if int(self.epochs) != self.epochs or self.epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {self.epochs!r}")
        if not 0.0 <= self.train_backbone <= 1.0:
            raise ValueError(f"train_backbone must be in [0, 1], got {self.train_backbone}")


PAPER_SCHEDULE: tuple[Stage, ...] = (
    Stage("adam", 1e-3, 3, train_backbone=0.0),  # "3 rounds at 0.001" on the frozen base net
    Stage("adam", 2.5e-5, 1),  # "then 0.000025 and 0.0000075, two rounds"
    Stage("adam", 7.5e-6, 1),
    Stage("sgd", 4.5e-6, 1),  # "finally SGD fine-tunes at 0.0000045 and 0.000001"
    Stage("sgd", 1e-6, 1),
)
"""The paper's schedule (§3.2, as §3.3 applies it). The text gives the first stage's 3 epochs and
one round each for the two small Adam rates; one epoch per SGD rate and unfreezing after the first
stage are this replication's reading ("freeze the layers, then fine-tune")."""


def parse_schedule(items: Iterable[Stage | Mapping]) -> tuple[Stage, ...]:
    """A schedule from Stages or dicts (e.g. a notebook parameter in JSON)."""
    schedule = tuple(item if isinstance(item, Stage) else Stage(**dict(item)) for item in items)
    if not schedule:
        raise ValueError("a schedule needs at least one stage")
    return schedule


def as_dicts(schedule: Iterable[Stage | Mapping]) -> list[dict]:
    """A schedule as a list of plain dicts (a notebook parameter, JSON)."""
    return [asdict(stage) for stage in parse_schedule(schedule)]

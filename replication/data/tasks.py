"""The eight FashionAI attribute dimensions ("tasks"), as one registry.

Paper §3.1.1, Table 1: four design-level dimensions and four length-level dimensions.
Value names follow the official FashionAI order (position 0 is always "Invisible"),
which is the order of the characters in a ``label.csv`` label string. The paper's
Table 1 lists the Chinese value names in its own order, without a one-to-one
mapping to the official English names, so it is kept verbatim per dimension.
"""

from __future__ import annotations

from dataclasses import dataclass

LEVELS = ("design", "length")


@dataclass(frozen=True)
class Task:
    """One attribute dimension of the FashionAI data set."""

    key: str
    """The task key used in ``label.csv``, e.g. ``"neckline_design_labels"``."""
    short: str
    """A short name for tables and figures, e.g. ``"neckline"``."""
    level: str
    """``"design"`` or ``"length"`` (paper §3.1.1)."""
    values: tuple[str, ...]
    """Value names in official order; index 0 is ``"Invisible"``."""
    name_zh: str
    """The dimension's Chinese name in the paper's Table 1."""
    paper_values_zh: tuple[str, ...]
    """The value names as the paper's Table 1 prints them (its own order)."""

    @property
    def n_values(self) -> int:
        return len(self.values)


TASKS: tuple[Task, ...] = (
    Task(
        "neckline_design_labels", "neckline", "design",
        ("Invisible", "Strapless Neck", "Deep V Neckline", "Straight Neck", "V Neckline",
         "Square Neckline", "Off Shoulder", "Round Neckline", "Sweat Heart Neck",
         "One Shoulder Neckline"),
        "颈线设计",
        ("V领", "圆领", "深V领", "方领", "不规则领", "抹胸领", "一字领", "露肩领", "半开领", "桃型领"),
    ),
    Task(
        "collar_design_labels", "collar", "design",
        ("Invisible", "Shirt Collar", "Peter Pan", "Puritan Collar", "Rib Collar"),
        "领子设计",
        ("娃娃领", "清道夫领", "衬衫领", "飞行员领", "不可见"),
    ),
    Task(
        "neck_design_labels", "neck", "design",
        ("Invisible", "Turtle Neck", "Ruffle Semi-High Collar", "Low Turtle Neck",
         "Draped Collar"),
        "脖颈设计",
        ("荷叶半高领", "常规半高领", "堆堆领", "高常规领", "不可见"),
    ),
    Task(
        "lapel_design_labels", "lapel", "design",
        ("Invisible", "Notched", "Collarless", "Shawl Collar", "Plus Size Shawl"),
        "翻领设计",
        ("西装领", "一片领", "青果领", "直线领", "不可见"),
    ),
    Task(
        "sleeve_length_labels", "sleeve", "length",
        ("Invisible", "Sleeveless", "Cup Sleeves", "Short Sleeves", "Elbow Sleeves",
         "3/4 Sleeves", "Wrist Length", "Long Sleeves", "Extra Long Sleeves"),
        "袖长",
        ("无袖", "杯袖", "短袖", "五分袖", "七分袖", "九分袖", "长袖", "超长袖", "不可见"),
    ),
    Task(
        "coat_length_labels", "coat", "length",
        ("Invisible", "High Waist Length", "Regular Length", "Long Length", "Micro Length",
         "Knee Length", "Midi Length", "Ankle&Floor Length"),
        "衣长",
        ("高腰", "正常", "长款", "加长款", "及膝", "超长", "及地", "不可见"),
    ),
    Task(
        "skirt_length_labels", "skirt", "length",
        ("Invisible", "Short Length", "Knee Length", "Midi Length", "Ankle Length",
         "Floor Length"),
        "裙长",
        ("短裙", "中裙", "七分裙", "九分裙", "长裙", "不可见"),
    ),
    Task(
        "pant_length_labels", "pant", "length",
        ("Invisible", "Short Pant", "Mid Length", "3/4 Length", "Cropped Pant",
         "Full Length"),
        "裤长",
        ("短裤", "五分裤", "七分裤", "九分裤", "长裤", "不可见"),
    ),
)

TASK_KEYS: tuple[str, ...] = tuple(t.key for t in TASKS)
_BY_NAME: dict[str, Task] = {t.key: t for t in TASKS} | {t.short: t for t in TASKS}


def get_task(name: str) -> Task:
    """Look a task up by its key (``"coat_length_labels"``) or short name (``"coat"``)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(TASK_KEYS)
        raise KeyError(f"unknown task {name!r}; known tasks: {known}") from None


def tasks_of_level(level: str) -> tuple[Task, ...]:
    """The tasks of one level, ``"design"`` or ``"length"``, in registry order."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {LEVELS}")
    return tuple(t for t in TASKS if t.level == level)

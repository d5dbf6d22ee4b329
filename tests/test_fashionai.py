"""Tests for replication.fashionai: the FashionAI data layer (DESIGN §3)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from replication.data.fashionai import LABEL_CSV, PROBLEM_KINDS, QUESTION_CSV, DataError, LabelRow, load_image, read_answer, read_labels, read_questions, safe_image_path, stratified_split, validate, write_answer
from replication.data import fashionai
from replication.data.tasks import TASK_KEYS

COLLAR = "collar_design_labels"  # 5 values
SKIRT = "skirt_length_labels"  # 6 values


def _jpeg(path: Path, colour=(200, 30, 30), size=(8, 8)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, "JPEG")
    return path


def _write_csv(root: Path, lines: list[str], name: str = LABEL_CSV, *, ending="\n") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(line + ending for line in lines).encode("utf-8"))
    return path


def _triples(items) -> list[tuple[str, int, str]]:
    return [(p.file, p.row, p.kind) for p in items]


# --------------------------------------------------------------------------- every problem kind


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A data set whose label.csv has one row of every problem kind (line numbers in comments)."""
    img = f"Images/{COLLAR}"
    for name in ("a", "b", "c", "dup"):
        _jpeg(tmp_path / img / f"{name}.jpg")
    (tmp_path / img / "empty.jpg").write_bytes(b"")
    good = (tmp_path / img / "a.jpg").read_bytes()
    (tmp_path / img / "trunc.jpg").write_bytes(good[: len(good) // 2])
    (tmp_path / img / "text.jpg").write_text("not an image at all\n")
    _jpeg(tmp_path / f"Images/{SKIRT}/s.jpg")
    lines = [
        f"{img}/a.jpg,{COLLAR},nynnn",          # 1 ok
        "only,two",                              # 2 malformed_row (2 columns)
        f"{img}/b.jpg,{COLLAR},",                # 3 malformed_row (empty field)
        "Images/foo/c.jpg,foo_labels,nyn",       # 4 unknown_task
        f"{img}/b.jpg,{COLLAR},nyn",             # 5 bad_label (length 3, not 5)
        f"{img}/b.jpg,{COLLAR},nnnnn",           # 6 bad_label (no y)
        f"{img}/b.jpg,{COLLAR},yynnn",           # 7 bad_label (two y)
        f"{img}/b.jpg,{COLLAR},nyxnn",           # 8 bad_label (x)
        f"../b.jpg,{COLLAR},nynnn",              # 9 unsafe_path ('..')
        f"Images/{SKIRT}/s.jpg,{COLLAR},nynnn",  # 10 unsafe_path (other task's folder)
        f"{img}/missing.jpg,{COLLAR},nynnn",     # 11 missing_image
        f"{img}/empty.jpg,{COLLAR},nynnn",       # 12 unreadable_image (0 bytes)
        f"{img}/a.jpg,{COLLAR},ynnnn",           # 13 duplicate_row (of row 1)
        "",                                      # 14 blank: skipped, no problem
        f"{img}/trunc.jpg,{COLLAR},nynnn",       # 15 unreadable_image (truncated)
        f"{img}/text.jpg,{COLLAR},nynnn",        # 16 unreadable_image (not an image)
        f"{img}/b.jpg,{COLLAR},nnmny",           # 17 ok, with a maybe
        f"Images/{SKIRT}/s.jpg,{SKIRT},nnnnny",  # 18 ok
        "a,b,c,d",                               # 19 malformed_row (4 columns)
        f"/etc/passwd,{COLLAR},nynnn",           # 20 unsafe_path (absolute)
    ]
    _write_csv(tmp_path, lines)
    return tmp_path


EXPECTED_PROBLEMS = [
    (LABEL_CSV, 2, "malformed_row"),
    (LABEL_CSV, 3, "malformed_row"),
    (LABEL_CSV, 4, "unknown_task"),
    (LABEL_CSV, 5, "bad_label"),
    (LABEL_CSV, 6, "bad_label"),
    (LABEL_CSV, 7, "bad_label"),
    (LABEL_CSV, 8, "bad_label"),
    (LABEL_CSV, 9, "unsafe_path"),
    (LABEL_CSV, 10, "unsafe_path"),
    (LABEL_CSV, 11, "missing_image"),
    (LABEL_CSV, 12, "unreadable_image"),
    (LABEL_CSV, 13, "duplicate_row"),
    (LABEL_CSV, 15, "unreadable_image"),
    (LABEL_CSV, 16, "unreadable_image"),
    (LABEL_CSV, 19, "malformed_row"),
    (LABEL_CSV, 20, "unsafe_path"),
]


@pytest.mark.parametrize("workers", [1, 3])
def test_every_problem_kind_is_reported_with_file_row_and_kind(messy: Path, workers: int) -> None:
    rows, problems = read_labels(messy, decode=True, workers=workers)
    assert _triples(problems) == EXPECTED_PROBLEMS
    assert {p.kind for p in problems} == set(PROBLEM_KINDS)
    assert [(r.image, r.task, r.labels, r.row) for r in rows] == [
        (f"Images/{COLLAR}/a.jpg", COLLAR, "nynnn", 1),
        (f"Images/{COLLAR}/b.jpg", COLLAR, "nnmny", 17),
        (f"Images/{SKIRT}/s.jpg", SKIRT, "nnnnny", 18),
    ]
    by_row = {p.row: p.message for p in problems}
    assert "row 1" in by_row[13]  # the duplicate names the kept row
    assert f"Images/{COLLAR}/" in by_row[10]  # says which folder it should be under
    assert "0 bytes" in by_row[12]
    assert "truncated" in by_row[15].lower()
    assert "not an image" in by_row[16]


def test_without_decode_or_file_checks_fewer_rows_are_skipped(messy: Path) -> None:
    _, problems = read_labels(messy)  # check_files=True, decode=False
    kinds = [p.kind for p in problems]
    assert "unreadable_image" not in kinds and "missing_image" in kinds
    rows, problems = read_labels(messy, check_files=False)
    assert "missing_image" not in [p.kind for p in problems]
    assert f"Images/{COLLAR}/missing.jpg" in [r.image for r in rows]


def test_progress_bar_goes_to_stderr(messy: Path, capsys: pytest.CaptureFixture) -> None:
    read_labels(messy, decode=True, workers=2, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "decoding" in captured.err


def test_validate_report(messy: Path) -> None:
    report = validate(messy, workers=2, progress=False)
    json.dumps(report)  # JSON-ready
    assert set(report) == {"root", "rows", "skipped", "tasks", "problems"}
    assert report["root"] == str(messy)
    assert report["rows"] == 3
    assert report["skipped"] == len(EXPECTED_PROBLEMS)
    assert list(report["tasks"]) == list(TASK_KEYS)
    # row 1 'nynnn' -> value 1; row 17 'nnmny' -> value 4, has a maybe.
    assert report["tasks"][COLLAR] == {"rows": 2, "values": [0, 1, 0, 0, 1], "maybe_rows": 1}
    assert report["tasks"][SKIRT] == {"rows": 1, "values": [0, 0, 0, 0, 0, 1], "maybe_rows": 0}
    assert report["tasks"]["pant_length_labels"] == {"rows": 0, "values": [0] * 6, "maybe_rows": 0}
    assert [(p["file"], p["row"], p["kind"]) for p in report["problems"]] == EXPECTED_PROBLEMS
    assert all(set(p) == {"file", "row", "kind", "message"} for p in report["problems"])


def test_bom_and_crlf(tmp_path: Path) -> None:
    _jpeg(tmp_path / f"Images/{COLLAR}/a.jpg")
    _jpeg(tmp_path / f"Images/{COLLAR}/b.jpg")
    text = (f"\ufeffImages/{COLLAR}/a.jpg,{COLLAR},nynnn\r\n\r\n"
            f"Images/{COLLAR}/b.jpg,{COLLAR},ynnnn\r\n")
    (tmp_path / "Annotations").mkdir()
    (tmp_path / LABEL_CSV).write_bytes(text.encode("utf-8"))
    rows, problems = read_labels(tmp_path, decode=True, workers=1)
    assert problems == []
    # The BOM is not part of the first image path; '\r' is not part of the labels; the blank
    # line still counts, so b is on line 3.
    assert [(r.image, r.labels, r.row) for r in rows] == [
        (f"Images/{COLLAR}/a.jpg", "nynnn", 1),
        (f"Images/{COLLAR}/b.jpg", "ynnnn", 3),
    ]


def test_row_numbers_survive_quoted_newlines_and_csv_errors(tmp_path: Path) -> None:
    _jpeg(tmp_path / f"Images/{COLLAR}/a.jpg")
    text = (f'Images/{COLLAR}/a.jpg,{COLLAR},"ny\nnnn"\n'      # lines 1-2: one row, bad_label
            f'Images/{COLLAR}/x.jpg,{COLLAR},{"n" * 200_000}\n'  # line 3: over the csv field limit
            f"Images/{COLLAR}/a.jpg,{COLLAR},nynnn\n")            # line 4: ok
    _write_csv(tmp_path, [text], ending="")
    rows, problems = read_labels(tmp_path)
    assert _triples(problems) == [(LABEL_CSV, 1, "bad_label"), (LABEL_CSV, 3, "malformed_row")]
    assert [r.row for r in rows] == [4]


def test_missing_or_undecodable_csv_raises_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Annotations/label.csv"):
        read_labels(tmp_path)
    (tmp_path / "Annotations").mkdir()
    (tmp_path / LABEL_CSV).write_bytes(b"Images/x.jpg,\xff\xfe,nyn\n")
    with pytest.raises(DataError, match="Annotations/label.csv.*row 1"):
        read_labels(tmp_path)


def test_label_row_properties() -> None:
    row = LabelRow(image=f"Images/{COLLAR}/a.jpg", task=COLLAR, labels="nmnyn", row=4)
    assert row.value == 3 and row.has_maybe
    assert not LabelRow("i", COLLAR, "ynnnn", 1).has_maybe
    assert LabelRow("i", SKIRT, "nnnnny", 1).value == 5


def test_non_canonical_path_is_unsafe(tmp_path: Path) -> None:
    _jpeg(tmp_path / f"Images/{COLLAR}/a.jpg")
    _write_csv(tmp_path, [f"Images//{COLLAR}/a.jpg,{COLLAR},nynnn",
                          f"Images/./{COLLAR}/a.jpg,{COLLAR},nynnn",
                          f"Images/{COLLAR}/a.jpg,{COLLAR},nynnn"])
    rows, problems = read_labels(tmp_path)
    # Without this, the same file could be listed twice and escape the duplicate check.
    assert _triples(problems) == [(LABEL_CSV, 1, "unsafe_path"), (LABEL_CSV, 2, "unsafe_path")]
    assert [r.row for r in rows] == [3]


# --------------------------------------------------------------------------- questions


def test_read_questions_checks_tasks_and_paths_not_placeholders(tmp_path: Path) -> None:
    _jpeg(tmp_path / f"Images/{COLLAR}/q1.jpg")
    _jpeg(tmp_path / f"Images/{SKIRT}/q2.jpg")
    _write_csv(tmp_path, [
        f"Images/{COLLAR}/q1.jpg,{COLLAR},?",        # 1 ok: '?' is a placeholder, not a label
        f"Images/{SKIRT}/q2.jpg,{SKIRT},",           # 2 ok: empty placeholder
        f"Images/{SKIRT}/q3.jpg,bogus_labels,?",     # 3 unknown_task
        f"../../q4.jpg,{SKIRT},?",                   # 4 unsafe_path
        f"Images/{COLLAR}/q1.jpg,{COLLAR},?",        # 5 duplicate_row
        f"Images/{SKIRT}/nope.jpg,{SKIRT},?",        # 6 missing_image
    ], name=QUESTION_CSV)
    rows, problems = read_questions(tmp_path)
    assert [(r.image, r.labels, r.row) for r in rows] == [
        (f"Images/{COLLAR}/q1.jpg", "?", 1), (f"Images/{SKIRT}/q2.jpg", "", 2)]
    assert _triples(problems) == [(QUESTION_CSV, 3, "unknown_task"),
                                  (QUESTION_CSV, 4, "unsafe_path"),
                                  (QUESTION_CSV, 5, "duplicate_row"),
                                  (QUESTION_CSV, 6, "missing_image")]


# --------------------------------------------------------------------------- safe paths


@pytest.mark.parametrize("image", [
    "../x", "/etc/passwd", "Images/t/../../x", "Images/t/../t/x.jpg", "Images\\..\\x",
    "C:/x.jpg", "", "Images/t/\0x.jpg",
])
def test_safe_image_path_rejects(tmp_path: Path, image: str) -> None:
    with pytest.raises(DataError):
        safe_image_path(tmp_path, image)


def test_safe_image_path_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    _jpeg(outside / "secret.jpg")
    _jpeg(root / "Images/t/real.jpg")
    (root / "Images/t/escape.jpg").symlink_to(outside / "secret.jpg")
    (root / "Images/u").symlink_to(outside, target_is_directory=True)
    (root / "Images/t/alias.jpg").symlink_to(root / "Images/t/real.jpg")
    with pytest.raises(DataError, match="outside"):
        safe_image_path(root, "Images/t/escape.jpg")
    with pytest.raises(DataError, match="outside"):
        safe_image_path(root, "Images/u/secret.jpg")
    # A link that stays inside the root is fine; the path is returned unresolved.
    assert safe_image_path(root, "Images/t/alias.jpg") == root / "Images/t/alias.jpg"
    assert safe_image_path(root, "Images/t/real.jpg") == root / "Images/t/real.jpg"


# --------------------------------------------------------------------------- images


def _save(path: Path, image: Image.Image, fmt: str, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, fmt, **kwargs)
    return path


def _palette_with_transparency() -> Image.Image:
    image = Image.new("P", (2, 1))
    image.putpalette([0, 0, 0, 255, 0, 0])  # index 0 black (transparent), 1 red
    image.putpixel((1, 0), 1)
    return image


CASES = {
    # name: (image, format, save kwargs, {pixel: expected RGB}), checked to +-3 for lossy JPEG
    "gray": (Image.new("L", (2, 2), 100), "JPEG", {}, {(0, 0): (100, 100, 100)}),
    "bilevel": (Image.new("1", (2, 2), 1), "PNG", {}, {(0, 0): (255, 255, 255)}),
    "cmyk": (Image.new("CMYK", (4, 4), (0, 255, 255, 0)), "JPEG", {"quality": 95},
             {(0, 0): (255, 0, 0)}),
    "rgba": (Image.new("RGBA", (2, 2), (255, 0, 0, 0)), "PNG", {}, {(0, 0): (255, 255, 255)}),
    "la": (Image.new("LA", (2, 2), (0, 0)), "PNG", {}, {(0, 0): (255, 255, 255)}),
    "palette": (Image.new("P", (2, 2), 0), "PNG", {}, {(0, 0): (0, 0, 0)}),
    "palette_transparency": (_palette_with_transparency(), "PNG", {"transparency": 0},
                             {(0, 0): (255, 255, 255), (1, 0): (255, 0, 0)}),
    # 16-bit: 65535 -> 255, 32896 (= 128 * 257) -> 128, 0 -> 0; Pillow's own convert would clip.
    "gray16": (Image.fromarray(np.array([[65535, 32896, 0]], dtype=np.uint16)), "PNG", {},
               {(0, 0): (255,) * 3, (1, 0): (128,) * 3, (2, 0): (0,) * 3}),
    "int32": (Image.fromarray(np.array([[65535, 32896, 0]], dtype=np.int32)), "TIFF", {},
              {(0, 0): (255,) * 3, (1, 0): (128,) * 3, (2, 0): (0,) * 3}),
    "rgb": (Image.new("RGB", (2, 2), (10, 20, 30)), "PNG", {}, {(0, 0): (10, 20, 30)}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_load_image_converts_every_mode_to_rgb(tmp_path: Path, name: str) -> None:
    image, fmt, kwargs, pixels = CASES[name]
    path = _save(tmp_path / f"{name}.{fmt.lower()}", image, fmt, **kwargs)
    loaded = load_image(path)
    assert loaded.mode == "RGB"
    assert loaded.size == image.size
    for xy, expected in pixels.items():
        assert np.allclose(loaded.getpixel(xy), expected, atol=3), (xy, loaded.getpixel(xy))


def test_load_image_partial_alpha_composites_on_white(tmp_path: Path) -> None:
    # Black at alpha 128 over white: 255 * (1 - 128/255) = 127.
    path = _save(tmp_path / "half.png", Image.new("RGBA", (1, 1), (0, 0, 0, 128)), "PNG")
    assert np.allclose(load_image(path).getpixel((0, 0)), (127, 127, 127), atol=1)


def test_load_image_applies_exif_orientation(tmp_path: Path) -> None:
    image = Image.new("RGB", (10, 4), (0, 128, 0))
    exif = image.getexif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    path = _save(tmp_path / "rot.jpg", image, "JPEG", exif=exif)
    assert load_image(path).size == (4, 10)


def test_load_image_png_behind_jpg_name(tmp_path: Path) -> None:
    path = _save(tmp_path / "really_png.jpg", Image.new("RGBA", (3, 2), (0, 0, 255, 255)), "PNG")
    loaded = load_image(path)
    assert loaded.mode == "RGB" and loaded.getpixel((2, 1)) == (0, 0, 255)


def test_load_image_result_outlives_the_file(tmp_path: Path) -> None:
    path = _save(tmp_path / "x.png", Image.new("RGB", (2, 2), (1, 2, 3)), "PNG")
    loaded = load_image(path)
    path.unlink()
    assert np.asarray(loaded).tolist() == [[[1, 2, 3]] * 2] * 2


def test_load_image_rejects_bad_files(tmp_path: Path) -> None:
    good = _jpeg(tmp_path / "good.jpg", size=(64, 64)).read_bytes()
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "trunc.jpg").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.jpg").write_text("hello")
    for name, pattern in [("empty.jpg", "0 bytes"), ("trunc.jpg", "(?i)truncated"),
                          ("text.jpg", "not an image"), ("absent.jpg", "cannot read")]:
        with pytest.raises(DataError, match=pattern) as info:
            load_image(tmp_path / name)
        assert name in str(info.value)


# --------------------------------------------------------------------------- answers


def test_write_answer_read_answer_round_trip(tmp_path: Path) -> None:
    probs_a = np.array([1 / 3, 1e-9, 0.1 + 0.2, 0.0, 1 - 1 / 3 - 1e-9 - 0.3])
    probs_b = np.array([0.5, 0.25, 0.125, 0.0625, 0.03125, 0.03125], dtype=np.float32)
    rows = [(f"Images/{COLLAR}/a.jpg", COLLAR, probs_a), (f"Images/{SKIRT}/b.jpg", SKIRT, probs_b)]
    path = tmp_path / "answer.csv"
    write_answer(path, rows)
    raw = path.read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n") and raw.count(b"\n") == 2
    assert raw.startswith(f"Images/{COLLAR}/a.jpg,{COLLAR},".encode())  # no header
    back = read_answer(path)
    assert [(image, task, row) for image, task, _, row in back] == [
        (f"Images/{COLLAR}/a.jpg", COLLAR, 1), (f"Images/{SKIRT}/b.jpg", SKIRT, 2)]
    # Exact: the format is round-trippable, not a rounded '%.6f'.
    assert np.array_equal(back[0][2], probs_a)
    assert np.array_equal(back[1][2], probs_b.astype(np.float64))


def test_write_answer_rejects_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "answer.csv"
    with pytest.raises(ValueError, match="5"):
        write_answer(path, [(f"Images/{COLLAR}/a.jpg", COLLAR, [0.5, 0.5])])
    with pytest.raises(ValueError, match="unknown task"):
        write_answer(path, [("Images/x/a.jpg", "x", [1.0])])
    with pytest.raises(ValueError, match="finite"):
        write_answer(path, [(f"Images/{COLLAR}/a.jpg", COLLAR, [np.nan, 0, 0, 0, 1])])
    with pytest.raises(ValueError, match="cannot be written"):
        write_answer(path, [(f"Images/{COLLAR}/a,b.jpg", COLLAR, [1, 0, 0, 0, 0])])
    assert not path.exists()


@pytest.mark.parametrize("line, pattern", [
    (f"Images/{COLLAR}/b.jpg,{COLLAR},0.1;abc;0.9", "not numbers"),
    (f"Images/{COLLAR}/b.jpg,{COLLAR}", "3 non-empty columns"),
    (f"Images/{COLLAR}/b.jpg,{COLLAR},0.1;nan;0.9", "finite"),
    (f"Images/{COLLAR}/b.jpg,{COLLAR},0.1;;0.9", "not numbers"),
])
def test_read_answer_names_file_and_row(tmp_path: Path, line: str, pattern: str) -> None:
    path = tmp_path / "answer.csv"
    path.write_text(f"Images/{COLLAR}/a.jpg,{COLLAR},1;0;0;0;0\n\n{line}\n")
    with pytest.raises(DataError, match=pattern) as info:
        read_answer(path)
    assert "answer.csv: row 3" in str(info.value)


# --------------------------------------------------------------------------- splitting


def _class_rows(counts: dict[tuple[str, int], int]) -> list[LabelRow]:
    rows = []
    for (task, value), count in counts.items():
        n_values = 5 if task == COLLAR else 6
        labels = "".join("y" if i == value else "n" for i in range(n_values))
        for i in range(count):
            rows.append(LabelRow(f"Images/{task}/{value}_{i:03d}.jpg", task, labels, len(rows) + 1))
    return rows


COUNTS = {(COLLAR, 0): 50, (COLLAR, 1): 20, (COLLAR, 2): 10, (COLLAR, 3): 2, (COLLAR, 4): 1,
          (SKIRT, 5): 31}


def test_stratified_split_is_stratified() -> None:
    rows = _class_rows(COUNTS)
    train, val = stratified_split(rows, val_fraction=0.1, seed=0)
    assert sorted(train + val, key=lambda r: r.row) == rows  # a partition
    assert not {r.image for r in train} & {r.image for r in val}
    per_class = lambda part: {k: sum((r.task, r.value) == k for r in part) for k in COUNTS}  # noqa: E731
    # floor(n * 0.1 + 0.5): 50 -> 5, 20 -> 2, 10 -> 1, 2 -> 0, 1 -> 0, 31 -> 3
    assert per_class(val) == {(COLLAR, 0): 5, (COLLAR, 1): 2, (COLLAR, 2): 1, (COLLAR, 3): 0,
                              (COLLAR, 4): 0, (SKIRT, 5): 3}
    # A large val fraction still leaves every class at least one training row.
    train, val = stratified_split(rows, val_fraction=0.9, seed=0)
    assert all(count >= 1 for count in per_class(train).values())
    assert per_class(train)[(COLLAR, 3)] == 1 and per_class(val)[(COLLAR, 3)] == 1
    assert per_class(train)[(COLLAR, 4)] == 1


def test_stratified_split_is_deterministic_and_order_free() -> None:
    rows = _class_rows(COUNTS)
    train, val = stratified_split(rows, seed=3)
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    assert stratified_split(shuffled, seed=3) == (train, val)
    assert stratified_split(rows, seed=3) == (train, val)
    other = stratified_split(rows, seed=4)[1]
    assert {r.image for r in other} != {r.image for r in val}
    assert val == sorted(val, key=lambda r: r.image)


def test_stratified_split_rejects_bad_fraction() -> None:
    with pytest.raises(ValueError):
        stratified_split([], val_fraction=1.0)
    assert stratified_split([], val_fraction=0.0) == ([], [])


def test_write_labels_round_trips_through_read_labels(tmp_path):
    rows = [fashionai.LabelRow("Images/skirt_length_labels/a.jpg", "skirt_length_labels", "nnmynn", 1),
            fashionai.LabelRow("Images/neck_design_labels/b.jpg", "neck_design_labels", "ynnnn", 7)]
    fashionai.write_labels(tmp_path / "Annotations" / "label.csv", rows)
    back, problems = fashionai.read_labels(tmp_path, check_files=False)
    assert problems == []
    assert [(r.image, r.task, r.labels, r.row) for r in back] == [
        ("Images/skirt_length_labels/a.jpg", "skirt_length_labels", "nnmynn", 1),
        ("Images/neck_design_labels/b.jpg", "neck_design_labels", "ynnnn", 2)]

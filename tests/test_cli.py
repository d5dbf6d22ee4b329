"""The command line: JSON on stdout, clear errors and exit codes."""

import csv
import json

import pytest
from PIL import Image

from replication import cli
from replication.data import fashionai


def _root(tmp_path, rows):
    (tmp_path / "Annotations").mkdir(parents=True, exist_ok=True)
    (tmp_path / fashionai.LABEL_CSV).write_text("".join(f"{r}\n" for r in rows))
    return tmp_path


def _image(root, rel):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 10, 10)).save(path, format="JPEG")


def test_validate_prints_the_report_and_exits_0_with_usable_rows(tmp_path, capsys):
    root = _root(tmp_path, ["Images/pant_length_labels/a.jpg,pant_length_labels,nnynnn",
                            "Images/pant_length_labels/b.jpg,pant_length_labels,nnyynn"])
    _image(root, "Images/pant_length_labels/a.jpg")
    _image(root, "Images/pant_length_labels/b.jpg")
    assert cli.main(["validate", str(root), "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 1 and report["skipped"] == 1
    assert report["tasks"]["pant_length_labels"]["values"] == [0, 0, 1, 0, 0, 0]
    assert report["problems"] == [{"file": "Annotations/label.csv", "row": 2, "kind": "bad_label",
                                   "message": report["problems"][0]["message"]}]


def test_validate_exits_1_without_usable_rows_or_without_label_csv(tmp_path, capsys):
    root = _root(tmp_path / "a", ["Images/pant_length_labels/missing.jpg,pant_length_labels,nnynnn"])
    assert cli.main(["validate", str(root), "--no-progress"]) == 1
    assert json.loads(capsys.readouterr().out)["problems"][0]["kind"] == "missing_image"
    assert cli.main(["validate", str(tmp_path / "nowhere"), "--no-progress"]) == 1
    assert "label.csv" in capsys.readouterr().err


def test_evaluate_scores_an_answer_and_names_a_bad_row(tmp_path, capsys):
    truth = _root(tmp_path, ["Images/lapel_design_labels/a.jpg,lapel_design_labels,nynnn",
                             "Images/lapel_design_labels/b.jpg,lapel_design_labels,nnnyn"])
    answer = tmp_path / "answer.csv"
    fashionai.write_answer(answer, [("Images/lapel_design_labels/a.jpg", "lapel_design_labels", [0.1, 0.9, 0, 0, 0]),
                                    ("Images/lapel_design_labels/b.jpg", "lapel_design_labels", [0.6, 0.4, 0, 0, 0])])
    assert cli.main(["evaluate", "--truth", str(truth / fashionai.LABEL_CSV), "--pred", str(answer)]) == 0
    scores = json.loads(capsys.readouterr().out)
    # a is right with p=0.9, b is wrong with p=0.6: P1 = 1, P2 = 1/2, AP = 3/4.
    assert scores["mAP"] == pytest.approx(0.75) and scores["acc"] == pytest.approx(0.5)
    answer.write_text(answer.read_text() + "Images/lapel_design_labels/c.jpg,lapel_design_labels,0.2;0.2;0.2;0.2;0.2\n")
    assert cli.main(["evaluate", "--truth", str(truth / fashionai.LABEL_CSV), "--pred", str(answer)]) == 1
    err = capsys.readouterr().err
    assert "answer.csv" in err and "3" in err


def test_reproduce_rejects_an_unknown_profile(capsys):
    assert cli.main(["reproduce", "--profile", "nope", "--no-book"]) == 1
    assert "unknown profile 'nope'" in capsys.readouterr().err


def test_reproduce_rejects_a_parameter_no_notebook_declares(capsys):
    assert cli.main(["reproduce", "--only", "01", "-p", "epochz=3", "--no-book"]) == 1
    assert "epochz" in capsys.readouterr().err
    assert cli.main(["reproduce", "--only", "01", "-p", "no_equals_sign", "--no-book"]) == 1
    assert "NAME=VALUE" in capsys.readouterr().err


def test_screen_writes_its_csv_for_a_folder_of_real_photos(tmp_path, capsys):
    """A folder of photos (no label.csv, no parser): OpenCV's detector decides every image,
    recursively; an unreadable file is skipped and reported, a non-image file ignored."""
    from skimage import data

    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    Image.fromarray(data.astronaut()).save(photos / "astronaut.jpg")
    Image.fromarray(data.coffee()).save(photos / "coffee.jpg")
    Image.fromarray(data.camera()).save(photos / "sub" / "camera.png")
    (photos / "broken.jpg").write_text("not an image")
    (photos / "notes.txt").write_text("ignored")
    out = tmp_path / "screen.csv"
    assert cli.main(["screen", str(photos), "--out", str(out), "--work", str(tmp_path / "w"),
                     "--no-progress"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["images"] == 3 and report["skipped"] == 1 and report["decided_by"] == {"detector": 3}
    assert "broken.jpg" in captured.err
    rows = {row["image"]: row for row in csv.DictReader(out.open())}
    assert {image: row["label"] for image, row in rows.items()} == {
        "astronaut.jpg": "on-model", "coffee.jpg": "flat-lay", "sub/camera.png": "on-model"}
    assert all(row["parser_flat"] == "" and row["decided_by"] == "detector" for row in rows.values())


def test_screen_writes_its_csv_for_a_synthetic_root(tmp_path, capsys, synthetic_set):
    """A synthetic root: the default parser and person segmenter train on it (briefly here), the
    threshold is calibrated against its truth, every length image gets a row with the stage
    that decided it (§3.2: coat/sleeve parser+detector, skirt/pant the detector alone)."""
    from replication.data.tasks import get_task

    root = synthetic_set(6, 64)
    out = tmp_path / "screen.csv"
    args = ["screen", str(root), "--out", str(out), "--work", str(tmp_path / "w"),
            "--parser-epochs", "1", "--person-epochs", "1", "--no-progress"]
    assert cli.main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 24 and report["skipped"] == 0
    assert report["calibration"]["source"].startswith("calibrated on")
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 24 and all(get_task(r["task"]).level == "length" for r in rows)
    for row in rows:
        if row["task"] in ("skirt_length_labels", "pant_length_labels"):
            assert row["decided_by"] == "detector" and row["flat"] == str(1 - int(row["person_found"]))
        else:
            assert row["decided_by"] == ("parser" if row["parser_flat"] == "1" else "parser+detector")
    # The second run reuses the trained models (not touched) and writes the same file.
    first = out.read_text()
    trained = {path: path.stat().st_mtime_ns for path in (tmp_path / "w").rglob("*.keras")}
    assert len(trained) == 2  # the parser and the person segmenter
    assert cli.main(args) == 0
    capsys.readouterr()
    assert out.read_text() == first
    assert {path: path.stat().st_mtime_ns for path in (tmp_path / "w").rglob("*.keras")} == trained


def test_screen_names_a_bad_root_or_model(tmp_path, capsys):
    assert cli.main(["screen", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.csv")]) == 1
    assert "nowhere" in capsys.readouterr().err
    (tmp_path / "photos").mkdir()
    Image.new("RGB", (32, 32)).save(tmp_path / "photos" / "a.jpg")
    (tmp_path / "model.pkl").write_bytes(b"\x80\x04")
    assert cli.main(["screen", str(tmp_path / "photos"), "--out", str(tmp_path / "x.csv"),
                     "--parser", str(tmp_path / "model.pkl")]) == 1
    assert "model.pkl" in capsys.readouterr().err and not (tmp_path / "x.csv").exists()

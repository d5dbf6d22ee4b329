"""The command line: JSON on stdout, clear errors and exit codes."""

import json

import numpy as np
import pytest
from PIL import Image

from replication import cli, fashionai


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

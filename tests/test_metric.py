"""Tests for replication.metric: the official FashionAI metric (DESIGN §4) and eq. 8 acc.

Every expected number is worked out by hand in the comments.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from replication.data.fashionai import LABEL_CSV, DataError, LabelRow, write_answer
from replication.data.metric import evaluate, evaluate_files, task_metrics

COLLAR = "collar_design_labels"  # 5 values
SKIRT = "skirt_length_labels"  # 6 values
NECK = "neck_design_labels"  # 5 values


def test_ties_keep_input_order() -> None:
    # Both rows have top probability 0.8. Row a: top 0, label y -> correct. Row b: top 1 -> wrong.
    a = ([0.8, 0.1, 0.1], "ynn")
    b = ([0.1, 0.8, 0.1], "ynn")
    # Order a, b: P1 = 1/1, P2 = 1/2 -> AP = (1 + 0.5) / 2 = 0.75.
    m = task_metrics(np.array([a[0], b[0]]), [a[1], b[1]])
    assert m["ap"] == pytest.approx(0.75)
    # Order b, a: P1 = 0/1, P2 = 1/2 -> AP = 0.25. Same data, so only a stable sort gives this.
    m = task_metrics(np.array([b[0], a[0]]), [b[1], a[1]])
    assert m["ap"] == pytest.approx(0.25)
    # BasicPrecision (P_K = 1/2) and acc (1 of 2) do not depend on the order.
    assert m["basic_precision"] == pytest.approx(0.5) and m["acc"] == pytest.approx(0.5)


def test_maybe_rows_dropped_from_ap_but_counted_in_acc() -> None:
    probs = np.array([
        [0.9, 0.05, 0.05],  # top 0 (p .9), label y -> correct, scored
        [0.1, 0.8, 0.1],    # top 1 (p .8), label m -> dropped from AP; wrong for acc
        [0.7, 0.2, 0.1],    # top 0 (p .7), label n -> wrong, scored
        [0.3, 0.6, 0.1],    # top 1 (p .6), label y -> correct, scored
        [0.5, 0.3, 0.2],    # top 0 (p .5), label y (row has an m elsewhere) -> correct, scored
    ])
    labels = ["ynn", "ymn", "nny", "nyn", "ymn"]
    m = task_metrics(probs, labels)
    # Scored in order of p: 1, 0, 1, 1 -> P = 1, 1/2, 2/3, 3/4.
    # AP = (1 + 1/2 + 2/3 + 3/4) / 4 = (12 + 6 + 8 + 9) / 48 = 35/48.
    assert m["ap"] == pytest.approx(35 / 48)
    assert m["basic_precision"] == pytest.approx(3 / 4)
    # acc: 3 correct of all 5 predictions (the m row counts as wrong).
    assert m["acc"] == pytest.approx(3 / 5)
    assert (m["n"], m["n_scored"]) == (5, 4)


def test_maybe_row_whose_top_is_the_y_is_correct() -> None:
    m = task_metrics(np.array([[0.2, 0.7, 0.1]]), ["mym"])
    assert (m["ap"], m["basic_precision"], m["acc"], m["n_scored"]) == (1.0, 1.0, 1.0, 1)


def test_one_image() -> None:
    right = task_metrics(np.array([[0.2, 0.7, 0.1]]), ["nyn"])
    assert (right["ap"], right["basic_precision"], right["acc"]) == (1.0, 1.0, 1.0)
    wrong = task_metrics(np.array([[0.7, 0.2, 0.1]]), ["nyn"])
    assert (wrong["ap"], wrong["basic_precision"], wrong["acc"]) == (0.0, 0.0, 0.0)
    # The only image's top class is an m: nothing scored, AP undefined (None), acc 0/1.
    dropped = task_metrics(np.array([[0.7, 0.2, 0.1]]), ["myn"])
    assert dropped == {"ap": None, "basic_precision": None, "acc": 0.0, "n": 1, "n_scored": 0}


def test_no_rows() -> None:
    assert task_metrics(np.zeros((0, 3)), []) == {
        "ap": None, "basic_precision": None, "acc": None, "n": 0, "n_scored": 0}


def test_perfect_and_worst() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=30)
    top = probs.argmax(axis=1)
    perfect = ["".join("y" if i == t else "n" for i in range(4)) for t in top]
    m = task_metrics(probs, perfect)
    assert (m["ap"], m["basic_precision"], m["acc"]) == (1.0, 1.0, 1.0)
    worst = ["".join("y" if i == (t + 1) % 4 else "n" for i in range(4)) for t in top]
    m = task_metrics(probs, worst)
    assert (m["ap"], m["basic_precision"], m["acc"]) == (0.0, 0.0, 0.0)


def test_ap_rewards_confident_correct_predictions_first() -> None:
    # p: .9 wrong, .8 right, .7 right -> P = 0, 1/2, 2/3 -> AP = (0 + 1/2 + 2/3) / 3 = 7/18.
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    m = task_metrics(probs, ["ny", "ny", "yn"])
    assert m["ap"] == pytest.approx(7 / 18)
    assert m["basic_precision"] == pytest.approx(2 / 3) and m["acc"] == pytest.approx(2 / 3)


def test_argmax_tie_within_a_row_takes_the_first_index() -> None:
    # [0.4, 0.4, 0.2]: the top class is 0, not 1.
    assert task_metrics(np.array([[0.4, 0.4, 0.2]]), ["nyn"])["acc"] == 0.0
    assert task_metrics(np.array([[0.4, 0.4, 0.2]]), ["ynn"])["acc"] == 1.0
    # ...and an m at index 0 drops the row even though index 1 (the y) ties with it.
    assert task_metrics(np.array([[0.4, 0.4, 0.2]]), ["myn"])["n_scored"] == 0


def test_task_metrics_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        task_metrics(np.array([[0.5, 0.5]]), ["ynn"])
    with pytest.raises(ValueError):
        task_metrics(np.array([[0.5, 0.5], [0.5, 0.5]]), ["yn"])
    with pytest.raises(ValueError):
        task_metrics(np.array([[np.nan, 0.5]]), ["yn"])


def test_vectorised_on_20k_rows() -> None:
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(9), size=20_000)
    labels = ["".join(rng.choice(list("ynnnnnnnm"), size=9)) for _ in range(20_000)]
    start = time.perf_counter()
    m = task_metrics(probs, labels)
    assert time.perf_counter() - start < 2.0
    assert m["n"] == 20_000 and 0.0 <= m["ap"] <= 1.0


# --------------------------------------------------------------------------- evaluate


def _onehot(n: int, value: int, char: str = "y", rest: str = "n") -> str:
    return "".join(char if i == value else rest for i in range(n))


def _multi_task_case() -> tuple[list[LabelRow], dict[str, np.ndarray]]:
    truth = [
        LabelRow(f"Images/{SKIRT}/s1.jpg", SKIRT, "nnynnn", 1),
        LabelRow(f"Images/{COLLAR}/c1.jpg", COLLAR, "nynnn", 2),
        LabelRow(f"Images/{COLLAR}/c2.jpg", COLLAR, "nnynn", 3),
        LabelRow(f"Images/{NECK}/n1.jpg", NECK, "mynnn", 4),
        LabelRow(f"Images/{SKIRT}/s2.jpg", SKIRT, "ynnnnn", 5),
    ]
    predictions = {
        # collar: c1 top 1 (p .6) right; c2 top 1 (p .9) wrong.
        #   sorted: c2 (0), c1 (1) -> P = 0, 1/2 -> AP = 1/4, BP = 1/2, acc = 1/2.
        f"Images/{COLLAR}/c1.jpg": np.array([0.1, 0.6, 0.1, 0.1, 0.1]),
        f"Images/{COLLAR}/c2.jpg": np.array([0.0, 0.9, 0.1, 0.0, 0.0]),
        # skirt: s1 top 2 (p .5) right; s2 top 0 (p .7) right -> AP = 1, BP = 1, acc = 1.
        f"Images/{SKIRT}/s1.jpg": np.array([0.1, 0.1, 0.5, 0.1, 0.1, 0.1]),
        f"Images/{SKIRT}/s2.jpg": np.array([0.7, 0.1, 0.1, 0.1, 0.0, 0.0]),
        # neck: n1 top 0 is an m -> nothing scored: AP None, acc 0/1.
        f"Images/{NECK}/n1.jpg": np.array([0.6, 0.4, 0.0, 0.0, 0.0]),
    }
    return truth, predictions


def test_evaluate_multi_task() -> None:
    truth, predictions = _multi_task_case()
    result = evaluate(truth, predictions)
    json.dumps(result)
    # Registry order: collar, neck, skirt; only the tasks present.
    assert list(result["tasks"]) == [COLLAR, NECK, SKIRT]
    assert result["tasks"][COLLAR] == pytest.approx(
        {"ap": 0.25, "basic_precision": 0.5, "acc": 0.5, "n": 2, "n_scored": 2})
    assert result["tasks"][SKIRT] == pytest.approx(
        {"ap": 1.0, "basic_precision": 1.0, "acc": 1.0, "n": 2, "n_scored": 2})
    assert result["tasks"][NECK] == {"ap": None, "basic_precision": None, "acc": 0.0, "n": 1,
                                     "n_scored": 0}
    # mAP over tasks with a scored row: (1/4 + 1) / 2 = 0.625; BP: (1/2 + 1) / 2 = 0.75.
    assert result["mAP"] == pytest.approx(0.625)
    assert result["basic_precision"] == pytest.approx(0.75)
    # acc pooled over all 5 predictions: c1, s1, s2 right -> 3/5.
    assert result["acc"] == pytest.approx(0.6)


def test_evaluate_ignores_extra_predictions_and_rejects_missing_ones() -> None:
    truth, predictions = _multi_task_case()
    extra = dict(predictions, **{f"Images/{COLLAR}/other.jpg": np.ones(5)})
    assert evaluate(truth, extra) == evaluate(truth, predictions)
    del predictions[f"Images/{COLLAR}/c2.jpg"]
    with pytest.raises(ValueError, match="truth row 3"):
        evaluate(truth, predictions)


def test_evaluate_empty_truth() -> None:
    assert evaluate([], {}) == {"tasks": {}, "mAP": None, "basic_precision": None, "acc": None}


# --------------------------------------------------------------------------- evaluate_files


def _write_truth(root: Path, truth: list[LabelRow]) -> Path:
    path = root / LABEL_CSV
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{r.image},{r.task},{r.labels}\n" for r in truth))
    return path


def test_evaluate_files_round_trip(tmp_path: Path) -> None:
    truth, predictions = _multi_task_case()
    truth_csv = _write_truth(tmp_path, truth)
    answer = tmp_path / "answer.csv"
    # Written in reverse order: ties are broken by truth order, so the answer order is irrelevant.
    write_answer(answer, [(r.image, r.task, predictions[r.image]) for r in reversed(truth)])
    expected = evaluate(truth, predictions)
    assert evaluate_files(truth_csv, answer) == expected
    assert evaluate_files(tmp_path, answer) == expected  # a data set root works too
    assert evaluate_files(str(truth_csv), str(answer))["mAP"] == pytest.approx(0.625)


def test_evaluate_files_ties_follow_truth_order(tmp_path: Path) -> None:
    # The tie case of test_ties_keep_input_order, through files: truth order b, a -> AP 0.25.
    truth = [LabelRow(f"Images/{COLLAR}/b.jpg", COLLAR, "ynnnn", 1),
             LabelRow(f"Images/{COLLAR}/a.jpg", COLLAR, "ynnnn", 2)]
    truth_csv = _write_truth(tmp_path, truth)
    answer = tmp_path / "answer.csv"
    write_answer(answer, [(f"Images/{COLLAR}/a.jpg", COLLAR, [0.8, 0.2, 0, 0, 0]),
                          (f"Images/{COLLAR}/b.jpg", COLLAR, [0.2, 0.8, 0, 0, 0])])
    assert evaluate_files(truth_csv, answer)["tasks"][COLLAR]["ap"] == pytest.approx(0.25)


GOOD_C1 = f"Images/{COLLAR}/c1.jpg,{COLLAR},0.1;0.6;0.1;0.1;0.1"


@pytest.mark.parametrize("lines, pattern", [
    # row 2: an image the truth does not have
    ([GOOD_C1, f"Images/{COLLAR}/zz.jpg,{COLLAR},1;0;0;0;0"], r"answer.csv: row 2: .*zz.jpg.*not in"),
    # row 2: 4 probabilities for a 5-value task
    ([GOOD_C1, f"Images/{COLLAR}/c2.jpg,{COLLAR},1;0;0;0"], r"answer.csv: row 2: 4 probabilities"),
    # row 2: the truth says collar, the answer says neck
    ([GOOD_C1, f"Images/{COLLAR}/c2.jpg,{NECK},1;0;0;0;0"], r"answer.csv: row 2: task .*differs"),
    # row 3: c1 again (first in row 1)
    ([GOOD_C1, f"Images/{COLLAR}/c2.jpg,{COLLAR},1;0;0;0;0", GOOD_C1],
     r"answer.csv: row 3: duplicate .*first in row 1"),
    # truth row 3 (c2) has no prediction
    ([GOOD_C1], r"Annotations/label.csv: row 3: .*c2.jpg.*no prediction"),
    # a non-numeric probability in row 1
    ([f"Images/{COLLAR}/c1.jpg,{COLLAR},0.1;x;0.1;0.1;0.1"], r"answer.csv: row 1: .*not numbers"),
])
def test_evaluate_files_errors_name_the_row(tmp_path: Path, lines: list[str], pattern: str) -> None:
    truth = [LabelRow(f"Images/{SKIRT}/s1.jpg", SKIRT, "nnynnn", 1),
             LabelRow(f"Images/{COLLAR}/c1.jpg", COLLAR, "nynnn", 2),
             LabelRow(f"Images/{COLLAR}/c2.jpg", COLLAR, "nnynn", 3)]
    truth_csv = _write_truth(tmp_path, truth)
    answer = tmp_path / "answer.csv"
    # s1 is always predicted, last, so the row numbers above stay as written.
    answer.write_text("".join(line + "\n" for line in lines)
                      + f"Images/{SKIRT}/s1.jpg,{SKIRT},0;0;1;0;0;0\n")
    with pytest.raises(DataError, match=pattern):
        evaluate_files(truth_csv, answer)


def test_evaluate_files_rejects_invalid_truth(tmp_path: Path) -> None:
    path = tmp_path / LABEL_CSV
    path.parent.mkdir(parents=True)
    path.write_text(f"Images/{COLLAR}/c1.jpg,{COLLAR},nynnn\n"
                    f"Images/{COLLAR}/c2.jpg,{COLLAR},nnnnn\n"     # row 2: no y
                    f"Images/{COLLAR}/c3.jpg,nope,ynnnn\n")        # row 3: unknown task
    answer = tmp_path / "answer.csv"
    write_answer(answer, [(f"Images/{COLLAR}/c1.jpg", COLLAR, [0, 1, 0, 0, 0])])
    with pytest.raises(DataError, match=r"row 2: bad_label.*row 3: unknown_task") as info:
        evaluate_files(path, answer)
    assert "Annotations/label.csv" in str(info.value)

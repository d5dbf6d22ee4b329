"""The claim records' rules (replication.book.claims): one shape, strict verdicts, one table."""

import json
import math

import pytest

from replication.book import claims


def gap(low, high, value=None):
    return {"gap": (low + high) / 2 if value is None else value, "low": low, "high": high}


@pytest.mark.parametrize("low, high, verdict", [
    (0.01, 0.05, "yes"), (-0.05, -0.01, "no"), (-0.01, 0.05, "undecided"),
    (0.0, 0.05, "undecided"),    # a gap that may be 0 is no win
    (-0.05, 0.0, "undecided"),   # nor a loss
    (0.0, 0.0, "undecided"),     # a tie is never a win
    (math.nan, math.nan, "undecided"),
])
def test_a_comparison_is_yes_only_when_its_whole_interval_lies_above_zero(low, high, verdict):
    record = claims.comparison("§4.1", "A beats B", gap(low, high), quantity="acc(A) - acc(B)")
    assert record["verdict"] == verdict
    assert set(record) == set(claims.FIELDS)


@pytest.mark.parametrize("low, high, verdict", [
    (0.91, 0.95, "yes"), (0.9024, 0.95, "yes"),  # at the paper's number counts as reaching it
    (0.80, 0.90, "no"), (0.89, 0.91, "undecided"),  # straddling it decides nothing
    (math.nan, 0.95, "undecided"),
])
def test_reaching_the_papers_number_needs_the_whole_interval_at_or_above_it(low, high, verdict):
    record = claims.reaches("§3.2", "stage 1 reaches 0.9024", 0.93, [low, high], paper=0.9024,
                            quantity="acc")
    assert record["verdict"] == verdict and record["paper"] == 0.9024


def test_record_refuses_an_unknown_verdict_and_a_reversed_interval():
    with pytest.raises(ValueError, match="verdict 'maybe'"):
        claims.record("§1", "x", measured=1.0, verdict="maybe")
    with pytest.raises(ValueError, match="low must not exceed high"):
        claims.record("§1", "x", measured=1.0, verdict="no", interval=[0.2, 0.1])


@pytest.mark.parametrize("paper", [None, "Fig. 3: dual better", 0.5])
def test_check_rejects_yes_resting_on_an_interval_that_holds_zero(paper):
    record = claims.record("§4.1", "dual beats single", measured=0.02, verdict="yes",
                           interval=[-0.01, 0.05], paper=paper)
    with pytest.raises(ValueError, match="dual beats single.*holding 0"):
        claims.check([record])
    fine = {**record, "verdict": "undecided"}
    assert claims.check([fine]) == [fine]


def test_check_rejects_records_of_another_shape():
    with pytest.raises(ValueError, match="list of claim records"):
        claims.check({"dual_beats_single": True})  # the old {name: bool} form
    with pytest.raises(ValueError, match="lacks interval"):
        claims.check([{k: v for k, v in claims.record("§1", "x", measured=1.0, verdict="no")
                       .items() if k != "interval"}])
    with pytest.raises(ValueError, match="is a mapping"):
        claims.check(["dual_beats_single"])


def test_markdown_has_one_row_per_claim_under_the_common_header_and_escapes_cells():
    records = [
        claims.comparison("§3.1.2 (3)", "augmentation | helps *a lot*", gap(-0.02, 0.03),
                          quantity="mAP(aug) - mAP(none)", paper="a large gain"),
        claims.reaches("§3.2", "the classifier reaches `acc_final`", 0.96, [0.958, 0.97],
                       paper=0.957, quantity="acc"),
    ]
    table = claims.markdown(records, note="smoke numbers")
    lines = table.splitlines()
    assert lines[0] == "| " + " | ".join(claims.HEADER) + " |"
    rows = [line for line in lines[2:] if line.startswith("|")]
    assert len(rows) == 2
    # One column per header cell: the claim's own | is escaped, not a column break.
    assert all(len(row.replace("\\|", "").split("|")) == len(claims.HEADER) + 2 for row in rows)
    assert r"augmentation \| helps \*a lot\*" in rows[0] and "**undecided**" in rows[0]
    assert "-0.020 to +0.030" in rows[0] and "a large gain" in rows[0]
    assert "`acc_final`" in rows[1] and "0.957" in rows[1] and "**yes**" in rows[1]
    assert lines[-1] == "smoke numbers"


def test_markdown_refuses_a_yes_on_an_interval_holding_zero():
    bad = claims.record("§4.3", "doubleNet beats each net", measured=0.01, verdict="yes",
                        interval=[-0.02, 0.04])
    with pytest.raises(ValueError, match="holding 0"):
        claims.markdown([bad])


def test_collect_gathers_every_chapter_in_order_and_skips_old_forms_only_when_asked(tmp_path):
    def write(chapter, claims_value):
        folder = tmp_path / chapter
        folder.mkdir()
        (folder / "numbers.json").write_text(json.dumps({"claims": claims_value}))

    later = claims.comparison("§4.3", "doubleNet beats each net", gap(0.01, 0.02), quantity="d")
    first = claims.reaches("§3.2", "reaches 0.957", 0.96, [0.958, 0.97], paper=0.957,
                           quantity="acc")
    write("07_base_nets", [later])
    write("04_screening", [first])
    write("03_augmentation", {"augmentation_helps_mAP": False})
    (tmp_path / "01_data").mkdir()
    (tmp_path / "01_data" / "numbers.json").write_text(json.dumps({"rows": 3}))  # no claims
    with pytest.raises(ValueError, match="03_augmentation"):
        claims.collect(tmp_path)
    skipped: list[str] = []
    collected = claims.collect(tmp_path, skipped=skipped)
    assert [r["chapter"] for r in collected] == ["04_screening", "07_base_nets"]
    assert collected[0] == {"chapter": "04_screening", **first}
    assert len(skipped) == 1 and skipped[0].startswith("03_augmentation: ")
    table = claims.markdown(collected, link={"04_screening": "04_screening.ipynb",
                                             "07_base_nets": "07_base_nets.ipynb"})
    assert table.splitlines()[0].startswith("| chapter | §")
    assert "[04\\_screening](04_screening.ipynb)" in table


def test_the_results_page_has_a_row_per_claim_its_provenance_and_the_chapters_left_out(
        tmp_path, monkeypatch):
    from replication.book import glance, profiles

    monkeypatch.setattr(profiles, "HOME", tmp_path)
    results = profiles.get_profile("smoke").results_dir
    for chapter, value in (("05_dual_channel", [claims.comparison(
            "§4.1", "dual beats single", gap(0.01, 0.04), quantity="acc(dual) - acc(single)",
            paper="Fig. 3")]), ("03_augmentation", {"augmentation_helps_mAP": False})):
        (results / chapter).mkdir(parents=True)
        (results / chapter / "numbers.json").write_text(json.dumps({"claims": value}))
    page = glance.write("smoke", tmp_path / "book" / "executed",
                        chapters=["03_augmentation", "05_dual_channel", "07_base_nets"])
    text = page.read_text()
    assert page.name == f"{glance.PAGE}.md" and text.startswith(f"# {glance.TITLE}\n")
    assert "**smoke** profile from commit " in text and glance.build_date() in text
    assert "test the code, not the paper" in text
    assert "1 claim: 1 yes, 0 no, 0 undecided." in text
    assert "| [5](05_dual_channel.ipynb) | §4.1 | dual beats single | **yes** | Fig. 3 |" in text
    assert "- 03\\_augmentation: claims must be a list" in text  # skipped, and why
    assert "- 07_base_nets: not run under this profile yet" in text


def test_commit_names_the_checkout_or_says_unknown(tmp_path):
    from replication.book import glance

    assert glance.commit(tmp_path) == "unknown"  # not a git repository
    assert glance.commit() != ""

"""Chapter 2 (the resolution sweep and the two training ablations), from the smoke reproduction:
every recorded number rescored from the files the notebook wrote, every claim's gap and interval
recomputed from them, every verdict from its interval."""

import html
import json

import pytest

from chapter_checks import answer_predictions, check_comparison, check_page_hygiene, truth_rows
from conftest import rescore_answer, run_config


@pytest.mark.slow
def test_notebook_02_records_the_resolution_sweep(smoke_run):
    from replication.book import claims, training_ablations
    from replication.data import metric

    numbers = json.loads((smoke_run.results_dir / "02_resolution" / "numbers.json").read_text())
    params = smoke_run.parameters("02_resolution")
    sizes = sorted(params["image_sizes"])
    assert [int(s) for s in numbers["sizes"]] == sizes and len(sizes) >= 2
    rows = truth_rows(numbers)
    predictions, maps, accs, costs = {}, {}, {}, {}
    configs = []
    for size in sizes:
        entry = numbers["sizes"][str(size)]
        assert 0.0 <= entry["acc"] <= 1.0 and 0.0 <= entry["mAP"] <= 1.0
        assert entry["train_images_per_second"] > 0 and entry["inference_images_per_second"] > 0
        rescored = rescore_answer(numbers, entry)
        assert rescored["mAP"] == pytest.approx(entry["mAP"], abs=1e-6)
        assert rescored["acc"] == pytest.approx(entry["acc"], abs=1e-12)
        assert sum(t["n"] for t in rescored["tasks"].values()) == numbers["val_images"]
        config = run_config(entry["model"])
        assert config["spec"]["image_size"] == size and config["spec"]["level"] == numbers["level"]
        model = smoke_run.home / entry["model"]
        speed = json.loads((model.parent / "speed.json").read_text())
        assert speed["train_images_per_second"] == pytest.approx(entry["train_images_per_second"])
        costs[size] = [1000 * c for c in training_ablations.epoch_costs(model)]
        assert entry["train_ms_per_image_by_epoch"] == pytest.approx(costs[size], rel=1e-12)
        assert len(costs[size]) == sum(stage["epochs"] for stage in params["schedule"])
        configs.append(config)
        predictions[size] = answer_predictions(entry["answer"])
        maps[size], accs[size] = entry["mAP"], entry["acc"]
    # One model, one budget: only the input size differs between the runs.
    for config in configs:
        assert {k: v for k, v in config["spec"].items() if k != "image_size"} == \
            {k: v for k, v in configs[0]["spec"].items() if k != "image_size"}
        assert (config["schedule"], config["seed"], config["batch_size"], config["train_data"]) == (
            configs[0]["schedule"], configs[0]["seed"], configs[0]["batch_size"], configs[0]["train_data"])
    assert configs[0]["schedule"] == numbers["schedule"] == params["schedule"]
    assert numbers["best_size_by_mAP"] == max(sizes, key=lambda s: (maps[s], -sizes.index(s)))

    # Every claim: its gap and interval recomputed from the files, its verdict from the interval.
    records = claims.check(numbers["claims"])
    by_claim = {r["claim"]: r for r in records}
    seed, resamples = numbers["seed"], numbers["resamples"]
    small, large = sizes[0], sizes[-1]

    def gap(first, second, measure="mAP"):
        return metric.bootstrap_gap(rows, first, second, metric=measure, seed=seed,
                                    resamples=resamples)

    for claim, measure in (("a higher resolution raises accuracy", "acc"),
                           ("a higher resolution raises the official mAP", "mAP")):
        recomputed = gap(predictions[large], predictions[small], measure)
        check_comparison(by_claim[claim], recomputed)
        assert recomputed["gap"] == pytest.approx(
            (accs if measure == "acc" else maps)[large] - (accs if measure == "acc" else maps)[small],
            abs=1e-9)
    if len(sizes) > 2:
        runner_up = max(sizes[:-1], key=lambda s: maps[s])
        check_comparison(by_claim["the largest size scores best"],
                         gap(predictions[large], predictions[runner_up]))
    else:
        assert "the largest size scores best" not in by_claim
    check_comparison(by_claim["a higher resolution makes training heavier"],
                     training_ablations.timing_gap(costs[large], costs[small], seed=seed,
                                                   resamples=resamples))

    # The normalisation ablation: two curves, one model each, recorded after every epoch.
    ablation = numbers["normalisation_ablation"]
    assert ablation["arms"] == params["normalisation_arms"] and ablation["image_size"] == params["ablation_size"]
    epochs = sum(stage["epochs"] for stage in params["schedule"])
    assert ablation["last_epoch"] == epochs
    curves, curve_configs = {}, {}
    for mode in ablation["arms"]:
        entry = ablation["curves"][mode]
        curve_configs[mode] = config = run_config(entry["model"])
        assert config["spec"]["normalisation"] == mode
        assert config["spec"]["image_size"] == params["ablation_size"]
        folder = (smoke_run.home / entry["model"]).parent
        curves[mode] = training_ablations.load_curve(folder, rows, epochs)
        recomputed = curves[mode].scores(rows)
        assert [r["epoch"] for r in entry["scores"]] == list(range(1, epochs + 1))
        for recorded, again in zip(entry["scores"], recomputed, strict=True):
            assert recorded == pytest.approx(again, abs=1e-12)
    first, second = (curve_configs[m] for m in ablation["arms"])
    assert {k: v for k, v in first["spec"].items() if k not in ("normalisation", "mean", "std")} == \
        {k: v for k, v in second["spec"].items() if k not in ("normalisation", "mean", "std")}
    assert (first["schedule"], first["seed"], first["train_data"]) == (
        second["schedule"], second["seed"], second["train_data"]) and first["schedule"] == params["schedule"]
    with_stats, without = (curves[m] for m in ablation["arms"])
    check_comparison(by_claim["normalising with the data set's statistics speeds convergence"],
                     gap(with_stats.at(ablation["convergence_epoch"]),
                         without.at(ablation["convergence_epoch"]), "acc"))
    check_comparison(by_claim["... and raises the recognition accuracy"],
                     gap(with_stats.at(epochs), without.at(epochs), "acc"))

    # The optimizer ablation: both arms continue the sweep's model at the ablation size.
    optimizer = numbers["optimizer_ablation"]
    arms = training_ablations.optimizer_arms(params["schedule"], params["sgd_stages"])
    source = smoke_run.home / numbers["sizes"][str(params["ablation_size"])]["model"]
    shared = next(k for k, (a, b) in enumerate(zip(*arms.values())) if a != b)  # the Adam stages
    assert shared >= 1 and all(s["optimizer"] == "adam" for s in arms["adam alone"])
    source_log = (source.parent / "log.csv").read_text().splitlines()
    source_log = source_log[:1 + sum(s["epochs"] for s in arms["adam alone"][:shared])]
    for arm, schedule in arms.items():
        entry = optimizer["arms"][arm]
        config = run_config(entry["model"])
        assert config["schedule"] == entry["schedule"] == schedule
        assert config["spec"] == configs[sizes.index(params["ablation_size"])]["spec"]
        # The shared Adam stages were trained once: the arm's log starts with the source's rows,
        # wall-clock seconds included.
        log = (smoke_run.home / entry["model"]).parent.joinpath("log.csv").read_text().splitlines()
        assert log[:len(source_log)] == source_log and len(log) == 1 + sum(s["epochs"] for s in schedule)
        rescored = rescore_answer(numbers, entry)
        assert (rescored["acc"], rescored["mAP"]) == pytest.approx((entry["acc"], entry["mAP"]), abs=1e-9)
    check_comparison(by_claim["fine-tuning with SGD after Adam beats Adam alone"],
                     gap(answer_predictions(optimizer["arms"]["adam then sgd"]["answer"]),
                         answer_predictions(optimizer["arms"]["adam alone"]["answer"])))
    assert len(records) == 6 + (len(sizes) > 2)

    folder = smoke_run.results_dir / "02_resolution"
    for name in ("fig2_resolution", "normalisation_curves"):
        assert (folder / f"{name}.png").stat().st_size > 10_000
    check_page_hygiene(smoke_run, "02_resolution")
    page = smoke_run.page("02_resolution")
    assert page.count("<img") >= 2 and "a higher resolution raises accuracy" in page
    assert numbers["normalisation_description"][:40] in html.unescape(page)

"""Tests for replication.bench.models.bench_models, the model benchmark (rates, peak memory, timm
ratios), and the memory meter of replication.bench.common.

One real end-to-end run on the tiny Inception-v4 at 75 px (one compiled train step, about 15 s
on 2 CPU cores); the timm comparison and the worker protocol with stand-ins; timm itself only
where torch and timm are installed.
"""

from __future__ import annotations

import json
import subprocess
import types

import numpy as np
import pytest

from replication.bench import common, models

RATE_KEYS = ("train_images_per_s", "infer_images_per_s", "train_peak_mib", "infer_peak_mib")


def test_bench_models_measures_the_tiny_net_without_timm(monkeypatch, capsys):
    monkeypatch.setattr(models, "_import_timm", lambda: None)
    records = models.bench_models(nets=("inception_v4",), variants=("tiny",), sizes=(75,),
                                 batch_size=2, steps=1, warmup=1, isolate=False)
    assert len(records) == 1
    rec = records[0]
    assert {"backend", "device", "net", "variant", "size", "batch", "steps", "warmup", "params",
            "memory", "isolated", *RATE_KEYS} <= set(rec)
    assert (rec["net"], rec["variant"], rec["size"], rec["batch"]) == ("inception_v4", "tiny", 75, 2)
    assert rec["train_images_per_s"] > 0 and rec["infer_images_per_s"] > 0
    assert rec["train_peak_mib"] > 0 and rec["infer_peak_mib"] >= 0
    assert 100_000 < rec["params"] < 1_000_000  # the tiny variant with its four heads
    assert not [k for k in rec if k.startswith(("timm_", "ratio_"))]
    out = capsys.readouterr().out
    assert "train img/s" in out and "inception_v4" in out and "peak memory" in out
    assert "timm" not in out.split("peak memory")[0].split("train img/s")[1]


def test_timm_true_without_timm_is_an_import_error(monkeypatch):
    monkeypatch.setattr(models, "_import_timm", lambda: None)
    monkeypatch.setattr(models, "_measure", lambda *a, **k: pytest.fail("measured anyway"))
    with pytest.raises(ImportError, match="timm"):
        models.bench_models(nets=("inception_v4",), variants=("canonical",), timm=True,
                           isolate=False)


def _fake_measure(kind, params, meter=None):
    scale = 1.0 if kind == "ours" else 4.0
    trained = params["train"]
    return {"params": 1000, "infer_images_per_s": 10.0 * scale, "infer_peak_mib": 100.0 * scale,
            "infer_peak_mark": "", "train_images_per_s": 2.0 * scale if trained else None,
            "train_peak_mib": 300.0 * scale if trained else None, "train_peak_mark": ""}


def test_canonical_rows_get_timm_columns_and_ratios(monkeypatch, capsys):
    fake = types.SimpleNamespace(__version__="0.0-fake")
    monkeypatch.setattr(models, "_import_timm", lambda: (fake, fake))
    monkeypatch.setattr(models, "_measure", _fake_measure)
    records = models.bench_models(nets=("inception_v4", "inception_resnet_v2"),
                                 variants=("tiny", "canonical"),
                                 sizes={"tiny": (80,), "canonical": (90, 100)}, isolate=False)
    assert [(r["net"], r["variant"], r["size"]) for r in records] == [
        ("inception_v4", "tiny", 80), ("inception_resnet_v2", "tiny", 80),
        ("inception_v4", "canonical", 90), ("inception_resnet_v2", "canonical", 90),
        ("inception_v4", "canonical", 100), ("inception_resnet_v2", "canonical", 100)]
    tiny, canonical = records[0], records[2]
    assert "ratio_infer" not in tiny and "timm_infer_images_per_s" not in tiny
    assert canonical["timm_infer_images_per_s"] == 40.0
    assert canonical["ratio_infer"] == pytest.approx(0.25)
    assert canonical["ratio_infer_peak"] == pytest.approx(0.25)
    if not records[0]["device"].startswith("gpu"):  # canonical trains only on a GPU by default
        assert canonical["train_images_per_s"] is None and canonical["ratio_train"] is None
        assert tiny["train_images_per_s"] == 2.0
    assert "ours / timm" in capsys.readouterr().out

    records = models.bench_models(nets=("inception_v4",), variants=("canonical",), sizes=90,
                                 train=True, isolate=False)
    assert records[0]["ratio_train"] == pytest.approx(0.25)
    assert records[0]["ratio_train_peak"] == pytest.approx(0.25)
    assert models.bench_models(nets=("inception_v4",), variants=("canonical",), sizes=90,
                              timm=False, isolate=False)[0].get("ratio_infer") is None


def test_unknown_net_or_variant_is_refused():
    with pytest.raises(ValueError, match="unknown nets"):
        models.bench_models(nets=("resnet50",))
    with pytest.raises(ValueError, match="unknown variants"):
        models.bench_models(variants=("huge",))


def test_isolated_measurement_reads_the_workers_result_line(monkeypatch):
    result = {"params": 7, "infer_images_per_s": 3.5}
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        stdout = "noise from a backend\n" + models._WORKER_MARK + json.dumps(result) + "\n"
        return subprocess.CompletedProcess(cmd, 0, stdout=stdout, stderr="warnings\n")

    monkeypatch.setattr(subprocess, "run", fake_run)
    assert models._measure_isolated("ours", {"net": "inception_v4"}) == result
    assert calls[0][1:5] == ["-m", "replication.bench", "--worker", "ours"]
    assert json.loads(calls[0][5]) == {"net": "inception_v4"}


def test_a_failing_worker_is_an_error_with_its_output():
    with pytest.raises(RuntimeError, match="unknown measurement"):
        models._measure_isolated("no-such-kind", {})


@pytest.mark.skipif(not common.reset_host_peak(), reason="needs Linux /proc/self/clear_refs")
def test_host_meter_sees_an_allocation_and_resets_between_phases():
    meter = common.HostMeter()
    meter.base()
    meter.start()
    block = np.ones(200 * 1024 * 1024 // 8)  # 200 MiB, touched
    peak, mark = meter.peak()
    assert mark == "" and peak > 150
    del block
    meter.start()
    peak, _ = meter.peak()
    assert peak < 100


def test_timm_measurement_when_torch_and_timm_are_installed():
    if models._import_timm() is None:
        pytest.skip("torch and timm are not installed (pip install '.[parity]')")
    out = models._measure_timm("inception_v4", 96, batch=2, steps=1, warmup=0, train=True,
                              gpu=False, seed=0)
    assert out["infer_images_per_s"] > 0 and out["train_images_per_s"] > 0
    assert 40e6 < out["params"] < 45e6  # timm's inception_v4 with 1000 classes: 42.7 M
    assert out["device"] == "cpu" and out["train_peak_mib"] > 0

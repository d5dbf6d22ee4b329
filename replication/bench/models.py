"""Model benchmark: training and inference images/s and peak memory of the base nets per variant
and input size, on the current Keras backend and device, and the same for timm's
``inception_v4`` / ``inception_resnet_v2`` (torch) in the same run, as ratios ours / timm, when
torch and timm import. ``python -m replication bench models``.

On a CPU each measurement runs in a fresh process (:func:`_measure_isolated`), the worker that
``python -m replication.bench --worker KIND PARAMS`` (``bench/__main__.py``) runs.

Keras, TensorFlow, JAX and torch are imported inside the functions that need them, never here.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import numpy as np

from replication.bench.common import (HostMeter, JaxGpuMeter, TfGpuMeter, TorchCudaMeter,
                                      cpu_name, rate)
from replication.nets import registry

NETS = registry.names()
VARIANTS = registry.variant_names()

DEFAULT_SIZES: dict[str, tuple[int, ...]] = {"tiny": (128,), "small": (128,), "canonical": (299,)}
"""Input sides per variant when ``sizes`` is not given. With the defaults below, ``python -m
replication bench models`` takes about 2.5 minutes on 2 otherwise idle CPU cores under TensorFlow
(most of it compiling the train steps; 4 minutes were measured on a shared machine with a load
average of 2-3); a GPU run asks for more, e.g. ``variants=("canonical",), sizes=(299, 480),
batch_size=32``."""

DEFAULT_BATCH = 8
DEFAULT_STEPS = 3
DEFAULT_WARMUP = 1

TIMM_VARIANT = "canonical"
"""The variant that is timm's architecture: only its rows are compared with timm."""

TIMM_NAMES = {net: registry.BACKBONES[net].timm_name for net in NETS
              if registry.BACKBONES[net].timm_name}

MEMORY_NOTE = ("peak memory: MiB above the level just before the model was built (imports and "
               "backend start-up excluded), over the timed steps of each phase (after warm-up, so "
               "compilation itself is not counted; the weights, optimizer state and compiled "
               "programs it leaves are). CPU: process RSS high-water mark (VmHWM, reset after "
               "warm-up through /proc/self/clear_refs; where that is refused, the cumulative "
               "getrusage maximum, marked '>'), each measurement in a fresh process unless "
               "isolate=False. JAX GPU: the device's peak_bytes_in_use, which cannot be reset (so "
               "it includes warm-up, XLA's autotuning scratch, and earlier phases of the process): a phase that did not raise "
               "the process's high-water mark is marked '<=' (an upper bound). TF GPU: "
               "get_memory_info peak after reset_memory_stats. torch CUDA: max_memory_allocated "
               "after reset_peak_memory_stats.")


# ----------------------------------------------------------- backend and device


def _keras_target():
    """(backend description, device description, on_gpu, memory meter) for the Keras backend."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        on_gpu = device.platform == "gpu"
        stats_ok = on_gpu and bool(device.memory_stats())
        meter = JaxGpuMeter(device) if stats_ok else HostMeter()
        name = device.device_kind if on_gpu else cpu_name()
        return f"keras {keras.__version__}, jax {jax.__version__}", \
            f"{device.platform}: {name}", on_gpu, meter
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return f"keras {keras.__version__}, tensorflow {tf.__version__}", \
                f"gpu: {details.get('device_name', gpus[0].name)}", True, TfGpuMeter(tf)
        return f"keras {keras.__version__}, tensorflow {tf.__version__}", \
            f"cpu: {cpu_name()}", False, HostMeter()
    if backend == "torch":
        import torch

        on_gpu = torch.cuda.is_available()
        return f"keras {keras.__version__}, torch {torch.__version__}", \
            (f"gpu: {torch.cuda.get_device_name(0)}" if on_gpu else f"cpu: {cpu_name()}"), \
            on_gpu, (TorchCudaMeter(torch) if on_gpu else HostMeter())
    return f"keras {keras.__version__}, {backend}", f"cpu: {cpu_name()}", False, HostMeter()


def _import_timm():
    """(torch, timm), or None when either does not import."""
    try:
        import timm
        import torch
    except Exception:  # noqa: BLE001 - a broken install counts as absent
        return None
    return torch, timm


# ----------------------------------------------------------- one configuration


def _measure_ours(net: str, variant: str, size: int, *, batch: int, steps: int, warmup: int,
                  train: bool, level: str, meter, seed: int) -> dict:
    """Inference, then (if ``train``) training images/s and peak memory of our multi-task model."""
    import keras

    from replication.learning import models
    from replication.learning.training import Stage, compile_for_stage

    rng = np.random.default_rng(seed)
    meter.base()
    model = models.build_model(models.ModelSpec(level=level, backbone=net, variant=variant,
                                                image_size=size))
    compile_for_stage(model, Stage("adam", 1e-3, 1))
    tasks = models.describe(model).tasks
    # Inputs go to the device once: the rates are the model's, not an input pipeline's.
    x = keras.ops.convert_to_tensor(rng.uniform(0, 255, (batch, size, size, 3)).astype("float32"))
    y = {models.head_name(t): keras.ops.convert_to_tensor(
        np.eye(t.n_values, dtype="float32")[rng.integers(0, t.n_values, batch)]) for t in tasks}
    w = {name: keras.ops.convert_to_tensor(np.ones(batch, "float32")) for name in y}

    out: dict = {"params": int(model.count_params()), "heads": len(tasks)}
    meter.phase()
    # predict_on_batch and train_on_batch return NumPy values, so each step blocks until done.
    out["infer_images_per_s"] = round(rate(lambda: model.predict_on_batch(x), batch, steps,
                                            warmup, meter.start), 2)
    out["infer_peak_mib"], out["infer_peak_mark"] = meter.peak()
    if train:
        meter.phase()
        out["train_images_per_s"] = round(rate(
            lambda: model.train_on_batch(x, y, sample_weight=w), batch, steps, warmup,
            meter.start), 2)
        out["train_peak_mib"], out["train_peak_mark"] = meter.peak()
    else:
        out["train_images_per_s"] = out["train_peak_mib"] = None
        out["train_peak_mark"] = ""
    del model, x, y, w
    keras.backend.clear_session()
    gc.collect()
    return out


def _measure_timm(net: str, size: int, *, batch: int, steps: int, warmup: int, train: bool,
                  gpu: bool, seed: int, torch=None, timm=None) -> dict:
    """The same measurement for ``timm.create_model(TIMM_NAMES[net], pretrained=False)``:
    inference under ``torch.inference_mode`` in eval mode, training as forward, cross-entropy
    on 1000 random classes, backward and an Adam step, in train mode."""
    if torch is None or timm is None:
        torch, timm = _import_timm() or (None, None)
        if torch is None:
            raise ImportError("timm comparison needs torch and timm")
    device = torch.device("cuda" if gpu and torch.cuda.is_available() else "cpu")
    meter = TorchCudaMeter(torch) if device.type == "cuda" else HostMeter()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # XLA autotunes its convolutions too
    torch.manual_seed(seed)
    meter.base()
    model = timm.create_model(TIMM_NAMES[net], pretrained=False, num_classes=1000).to(device)
    x = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    labels = torch.randint(0, 1000, (batch,), device=device)

    def sync(value):
        if device.type == "cuda":
            torch.cuda.synchronize()
        return value

    def infer():
        with torch.inference_mode():
            return sync(model(x))

    out: dict = {"params": sum(p.numel() for p in model.parameters())}
    model.eval()
    meter.phase()
    out["infer_images_per_s"] = round(rate(infer, batch, steps, warmup, meter.start), 2)
    out["infer_peak_mib"], out["infer_peak_mark"] = meter.peak()
    if train:
        model.train()
        meter.phase()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

        def train_step():
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(x), labels)
            loss.backward()
            optimizer.step()
            return sync(loss.item())

        out["train_images_per_s"] = round(rate(train_step, batch, steps, warmup, meter.start),
                                          2)
        out["train_peak_mib"], out["train_peak_mark"] = meter.peak()
        del optimizer
    else:
        out["train_images_per_s"] = out["train_peak_mib"] = None
        out["train_peak_mark"] = ""
    del model, x, labels
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    out["device"] = (f"cuda: {torch.cuda.get_device_name(device)}" if device.type == "cuda"
                     else "cpu")
    return out


# ----------------------------------------------------------- the benchmark


def _sizes_for(variant: str, sizes) -> tuple[int, ...]:
    if sizes is None:
        return DEFAULT_SIZES[variant]
    if isinstance(sizes, Mapping):
        return tuple(int(s) for s in sizes.get(variant, DEFAULT_SIZES[variant]))
    if isinstance(sizes, int):
        return (int(sizes),)
    return tuple(int(s) for s in sizes)


def _ratio(a, b) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def _fmt(value, mark: str = "", width: int = 10, digits: int = 1) -> str:
    text = "-" if value is None else f"{mark}{value:.{digits}f}"
    return f"{text:>{width}}"


_WORKER_MARK = "BENCH_WORKER_RESULT "


def _measure(kind: str, params: dict, meter=None) -> dict:
    """One measurement in this process: ``kind`` "ours" or "timm", ``params`` as
    :func:`bench_models` passes them (net, variant, size, batch, steps, warmup, train, level,
    seed, gpu)."""
    p = dict(params)
    if kind == "ours":
        if meter is None:
            meter = _keras_target()[3]
        return _measure_ours(p["net"], p["variant"], p["size"], batch=p["batch"],
                             steps=p["steps"], warmup=p["warmup"], train=p["train"],
                             level=p["level"], meter=meter, seed=p["seed"])
    if kind == "timm":
        return _measure_timm(p["net"], p["size"], batch=p["batch"], steps=p["steps"],
                             warmup=p["warmup"], train=p["train"], gpu=p["gpu"], seed=p["seed"])
    raise ValueError(f"unknown measurement {kind!r}")


def _measure_isolated(kind: str, params: dict) -> dict:
    """:func:`_measure` in a fresh Python process (same interpreter, environment and backend),
    so that its peak memory is its own and not what earlier configurations left behind."""
    import json
    import subprocess
    import sys

    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, "-m", "replication.bench", "--worker", kind,
                           json.dumps(params)], env=env, capture_output=True, text=True)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(_WORKER_MARK):
            return json.loads(line[len(_WORKER_MARK):])
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
    raise RuntimeError(f"benchmark worker ({kind}, {params}) failed with exit code "
                       f"{done.returncode}:\n{tail}")


def bench_models(*, nets: Sequence[str] = NETS, variants: Sequence[str] = VARIANTS,
                 sizes: Sequence[int] | Mapping[str, Sequence[int]] | int | None = None,
                 batch_size: int = DEFAULT_BATCH, steps: int = DEFAULT_STEPS,
                 warmup: int = DEFAULT_WARMUP, train: bool | Collection[str] | None = None,
                 timm: bool | None = None, isolate: bool | None = None, level: str = "design",
                 seed: int = 0, out: str | os.PathLike | None = None) -> list[dict]:
    """Training and inference images/s and peak memory per base net, variant and input size.

    Each configuration builds the multi-task model of ``level`` (``build_model``: preprocessing,
    the base net, dropout and one softmax head per task) on the current Keras backend, compiled
    as training compiles it (``compile_for_stage``, Adam 1e-3, the masked multi-task loss). On
    ``batch_size`` random images (inputs converted to backend tensors once, so no input pipeline
    is timed) it times ``steps`` calls of ``predict_on_batch`` (inference) and of
    ``train_on_batch`` (forward, backward, optimizer update), after ``warmup`` untimed calls of
    each (the first compiles). Peak memory: see ``MEMORY_NOTE``, which the table also prints.

    Args:
        nets, variants: what to measure; configurations run by variant, then size, then net,
            smallest first by default.
        sizes: input sides: None (``DEFAULT_SIZES`` per variant), one int or a sequence (every
            variant at those sides), or a mapping variant -> sides.
        train: which configurations also time training: None (every variant except
            ``canonical`` on a CPU, where compiling its train step takes about a minute per
            net on 2 cores), True, False, or a collection of variant names.
        timm: compare the ``canonical`` rows with timm's same architecture (torch; same size,
            batch, steps and device kind, in the same run): None (when torch and timm import),
            True (an ImportError when they do not), False (never).
        isolate: run each measurement (ours, timm) in a fresh Python process: None (when the
            peak memory is the host RSS, i.e. on a CPU, where one process's RSS cannot be
            attributed to one configuration), True, False (all in this process).
        level: the model's task level (``"design"`` or ``"length"``: four heads each).
        out: also write the records as JSON here, after each configuration (so a run that is
            stopped keeps what it measured).

    Returns:
        One dict per (net, variant, size): ``backend``, ``device``, ``net``, ``variant``,
        ``size``, ``batch``, ``steps``, ``warmup``, ``isolated``, ``params``,
        ``train_images_per_s``, ``infer_images_per_s``, ``train_peak_mib``, ``infer_peak_mib``
        (None where not measured), ``memory`` (what the peak figures are) and ``*_peak_mark``
        ('' exact, '<=' upper bound, '>' cumulative); with timm also ``timm_*`` for the same
        fields and ``ratio_train``, ``ratio_infer``, ``ratio_train_peak``, ``ratio_infer_peak``
        (ours / timm).
    """
    import json

    import keras

    if batch_size < 1 or steps < 1 or warmup < 0:
        raise ValueError("batch_size and steps must be positive, warmup non-negative")
    unknown = set(nets) - set(NETS)
    if unknown:
        raise ValueError(f"unknown nets {sorted(unknown)}; choose from {NETS}")
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variants {sorted(unknown)}; choose from {VARIANTS}")
    if keras.backend.backend() == "jax":
        # Only effective before JAX first touches a GPU: without it JAX takes 75 % of the GPU's
        # memory at start, which leaves torch too little for the timm comparison.
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    backend, device, on_gpu, meter = _keras_target()
    if isolate is None:
        isolate = isinstance(meter, HostMeter)

    if train is None:
        trained = {v for v in variants if on_gpu or v != "canonical"}
    elif isinstance(train, bool):
        trained = set(variants) if train else set()
    else:
        trained = set(train)
    compare = TIMM_VARIANT in variants and timm is not False
    torch_timm = _import_timm() if compare else None
    if timm is True and torch_timm is None:
        raise ImportError("bench_models(timm=True) needs torch and timm (pip install torch timm)")
    compare = compare and torch_timm is not None

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"model benchmark: {backend}; {device}; load average {load:.2f} (a shared machine "
          f"slows every figure)")
    print(f"  multi-task '{level}' model, batch {batch_size}, {warmup} warm-up step(s) excluded, "
          f"{steps} timed step(s); random inputs already on the device; "
          f"{'a fresh process per measurement' if isolate else 'all in one process'}")
    print("  train = train_on_batch (forward, backward, Adam update); infer = predict_on_batch",
          flush=True)

    def measure(kind: str, params: dict) -> dict:
        if isolate:
            return _measure_isolated(kind, params)
        return _measure(kind, params, meter if kind == "ours" else None)

    records: list[dict] = []
    for variant in variants:
        for size in _sizes_for(variant, sizes):
            for net in nets:
                params = {"net": net, "variant": variant, "size": int(size),
                          "batch": int(batch_size), "steps": int(steps), "warmup": int(warmup),
                          "train": variant in trained, "level": level, "seed": int(seed),
                          "gpu": bool(on_gpu)}
                t0 = time.perf_counter()
                rec = {"backend": backend, "device": device, "net": net, "variant": variant,
                       "size": int(size), "batch": int(batch_size), "steps": int(steps),
                       "warmup": int(warmup), "isolated": bool(isolate),
                       "memory": f"{meter.kind}, MiB (see MEMORY_NOTE)"}
                # timm first: torch hands its cached GPU memory back afterwards, JAX does not.
                theirs = measure("timm", params) if compare and variant == TIMM_VARIANT else None
                rec.update(measure("ours", params))
                if theirs is not None:
                    torch, timm_module = torch_timm
                    rec["timm_version"] = f"timm {timm_module.__version__}, torch {torch.__version__}"
                    rec.update({f"timm_{k}": v for k, v in theirs.items()})
                    for key in ("train_images_per_s", "infer_images_per_s", "train_peak_mib",
                                "infer_peak_mib"):
                        short = key.replace("_images_per_s", "").replace("_mib", "")
                        rec[f"ratio_{short}"] = _ratio(rec[key], rec[f"timm_{key}"])
                records.append(rec)
                if out is not None:
                    Path(out).write_text(json.dumps(records, indent=1))
                print(f"  ... {net} {variant} {size} px: train {rec['train_images_per_s']}, "
                      f"infer {rec['infer_images_per_s']} img/s"
                      + (f"; timm train {rec['timm_train_images_per_s']}, infer "
                         f"{rec['timm_infer_images_per_s']} img/s" if "timm_version" in rec else "")
                      + f" ({time.perf_counter() - t0:.0f} s)", flush=True)

    _print_table(records)
    return records


def _print_table(records: Sequence[dict]) -> None:
    print(f"\n  {'net':<20} {'variant':<9} {'px':>4} {'params':>7} {'train img/s':>11} "
          f"{'infer img/s':>11} {'train MiB':>10} {'infer MiB':>10}")
    for r in records:
        print(f"  {r['net']:<20} {r['variant']:<9} {r['size']:>4} {r['params'] / 1e6:>6.1f}M "
              f"{_fmt(r['train_images_per_s'], width=11)} {_fmt(r['infer_images_per_s'], width=11)} "
              f"{_fmt(r['train_peak_mib'], r['train_peak_mark'], 10, 0)} "
              f"{_fmt(r['infer_peak_mib'], r['infer_peak_mark'], 10, 0)}")
    timm_rows = [r for r in records if "timm_infer_images_per_s" in r]
    if timm_rows:
        print(f"\n  timm, same run, size, batch and steps ({timm_rows[0]['timm_version']}, "
              f"{timm_rows[0].get('timm_device', '?')}); ratio = ours / timm (> 1: ours faster or larger)")
        print(f"  {'net':<20} {'px':>4} {'params':>7} {'train img/s':>11} {'infer img/s':>11} "
              f"{'train MiB':>10} {'infer MiB':>10} {'train x':>8} {'infer x':>8} "
              f"{'trainMiB x':>10} {'inferMiB x':>10}")
        for r in timm_rows:
            print(f"  {r['net']:<20} {r['size']:>4} {r['timm_params'] / 1e6:>6.1f}M "
                  f"{_fmt(r['timm_train_images_per_s'], width=11)} "
                  f"{_fmt(r['timm_infer_images_per_s'], width=11)} "
                  f"{_fmt(r['timm_train_peak_mib'], r['timm_train_peak_mark'], 10, 0)} "
                  f"{_fmt(r['timm_infer_peak_mib'], r['timm_infer_peak_mark'], 10, 0)} "
                  f"{_fmt(r['ratio_train'], width=8, digits=2)} "
                  f"{_fmt(r['ratio_infer'], width=8, digits=2)} "
                  f"{_fmt(r['ratio_train_peak'], width=10, digits=2)} "
                  f"{_fmt(r['ratio_infer_peak'], width=10, digits=2)}")
    print(f"\n  {MEMORY_NOTE}")


def _worker_main(argv: Sequence[str]) -> int:
    """``python -m replication.bench --worker KIND PARAMS``: one isolated measurement, run by
    :func:`_measure_isolated` in a fresh process. Users run ``python -m replication bench``."""
    import json

    if len(argv) != 3 or argv[0] != "--worker":
        raise SystemExit("usage: python -m replication bench ... (this module is its worker)")
    result = _measure(argv[1], json.loads(argv[2]))
    print(_WORKER_MARK + json.dumps(result), flush=True)
    return 0


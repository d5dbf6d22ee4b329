"""Benchmarks, as plain functions that print a readable table and return their numbers.

- :func:`bench_synth`: how fast the embedded synthetic data set renders (DESIGN §6; the first
  issue asks for 8 x 1000 images at 256 px in under 2 minutes on 2 cores).
- :func:`learnability`: how learnable each synthetic task is from tiny images: the majority
  class against a logistic regression on 32 x 32 RGB pixels. The regression should beat the
  majority class on most tasks (the labels are in the pixels) but stay well below 90 % (fine
  details need resolution and a real model, so that the paper's resolution sweep and model
  comparisons can show something).
- :func:`bench_models`: training and inference images/s and peak memory of the base nets per
  variant and input size, on the current Keras backend and device, and the same for timm's
  ``inception_v4`` / ``inception_resnet_v2`` (torch) in the same process, as ratios ours / timm,
  when torch and timm import.

Keras, TensorFlow, JAX and torch are imported inside the functions that need them, never here.
"""

from __future__ import annotations

import gc
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

import numpy as np

from .tasks import TASKS

LOGREG_C = 0.005
"""Inverse L2 strength of the learnability regression: strong, as 3072 standardised pixels
face about 750 training images per task."""


def bench_synth(*, images_per_task: int = 1000, size: int = 256, seed: int = 0,
                workers: int | None = None, out: str | os.PathLike | None = None,
                progress: bool = False) -> dict:
    """Render ``8 x images_per_task`` synthetic images and print the rate.

    Renders into a temporary folder (removed afterwards) unless ``out`` is given. Returns
    ``{"images", "seconds", "images_per_second", "size", "workers"}``.
    """
    from . import synthetic

    workers = workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        root = Path(out) if out is not None else Path(tmp)
        t0 = time.perf_counter()
        summary = synthetic.generate(root, images_per_task=images_per_task, seed=seed, size=size,
                                     workers=workers, progress=progress)
        seconds = time.perf_counter() - t0
    n = summary["images"]
    result = {"images": n, "seconds": round(seconds, 2), "images_per_second": round(n / seconds, 1),
              "size": size, "workers": workers}
    print(f"synthetic rendering: {n} images at {size} px with {workers} worker(s): "
          f"{seconds:.1f} s, {n / seconds:.1f} images/s")
    print(f"  flat share {summary['flat_share']:.1%} (length tasks {summary['flat_share_length']:.1%}), "
          f"'m' rows {summary['m_rate']:.1%}")
    return result


def _read_labels(root: Path) -> list[tuple[str, str, int]]:
    """(image path, task key, index of the 'y') per row of Annotations/label.csv."""
    rows = []
    with open(root / "Annotations" / "label.csv", encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            parts = line.rstrip("\n").split(",")
            if len(parts) != 3 or parts[2].count("y") != 1:
                raise ValueError(f"{root / 'Annotations' / 'label.csv'}, line {line_no}: "
                                 f"malformed row {line!r}")
            rows.append((parts[0], parts[1], parts[2].index("y")))
    return rows


def load_pixels(root: str | os.PathLike, images: list[str], pixels: int) -> np.ndarray:
    """Images squashed to ``pixels x pixels`` RGB, as float32 rows in [0, 1].

    JPEG draft mode decodes at a reduced scale first, which makes this fast.
    """
    from PIL import Image

    root = Path(root)
    out = np.empty((len(images), pixels * pixels * 3), dtype=np.float32)
    for i, rel in enumerate(images):
        with Image.open(root / rel) as im:
            im.draft("RGB", (pixels * 2, pixels * 2))
            arr = np.asarray(im.convert("RGB").resize((pixels, pixels), Image.BILINEAR), dtype=np.float32)
        out[i] = arr.reshape(-1) / 255.0
    return out


def learnability(root: str | os.PathLike, *, pixels: int = 32, seed: int = 0,
                 max_per_task: int | None = None, test_size: float = 0.25, C: float = LOGREG_C) -> dict:
    """Majority class and logistic regression on ``pixels x pixels`` RGB per task.

    Held-out accuracy on a stratified split (``test_size``). Pixels are standardised with the
    training split's mean and std. Prints a table and returns
    ``{task_key: {"majority", "logreg", "n"}, "beats_majority": count, "max_logreg": max}``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    root = Path(root)
    rows = _read_labels(root)
    result: dict = {}
    print(f"learnability on {root} ({pixels}x{pixels} RGB, held-out {test_size:.0%}, C={C}):")
    print(f"  {'task':<10} {'n':>6} {'classes':>7} {'majority':>9} {'logreg':>7}  beats")
    beats, best = 0, 0.0
    t0 = time.perf_counter()
    for task in TASKS:
        mine = [(img, y) for img, key, y in rows if key == task.key]
        if max_per_task is not None:
            mine = mine[:max_per_task]
        if len(mine) < 10:
            continue
        y = np.array([v for _, v in mine])
        X = load_pixels(root, [img for img, _ in mine], pixels)
        counts = np.bincount(y)
        stratify = y if counts[counts > 0].min() >= 2 else None
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, random_state=seed,
                                                  stratify=stratify)
        majority = float(np.mean(y_te == np.bincount(y_tr).argmax()))
        scaler = StandardScaler().fit(X_tr)
        clf = LogisticRegression(C=C, max_iter=300)
        clf.fit(scaler.transform(X_tr), y_tr)
        acc = float(clf.score(scaler.transform(X_te), y_te))
        result[task.key] = {"majority": round(majority, 4), "logreg": round(acc, 4), "n": len(mine)}
        beats += acc > majority
        best = max(best, acc)
        print(f"  {task.short:<10} {len(mine):>6} {len(np.unique(y)):>7} {majority:>9.3f} {acc:>7.3f}  "
              f"{'yes' if acc > majority else 'no'}")
    result["beats_majority"] = int(beats)
    result["max_logreg"] = round(best, 4)
    print(f"  logistic regression beats the majority class on {beats} of {len(TASKS)} tasks; "
          f"best {best:.3f}; {time.perf_counter() - t0:.1f} s")
    return result


# --------------------------------------------------------------------------- model benchmark

NETS = ("inception_v4", "inception_resnet_v2")
VARIANTS = ("tiny", "small", "canonical")

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

TIMM_NAMES = {"inception_v4": "inception_v4", "inception_resnet_v2": "inception_resnet_v2"}

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

_MIB = 1024 * 1024


def _mib(n_bytes: float) -> float:
    return round(n_bytes / _MIB, 1)


# ----------------------------------------------------------- timing


def _rate(step: Callable[[], object], batch: int, steps: int, warmup: int,
          before_timing: Callable[[], object] | None = None) -> float:
    """Images per second of ``step`` (which must block until its work is done), warm-up excluded.

    ``before_timing`` runs after the warm-up (e.g. to reset a memory high-water mark, so that
    compilation is not counted)."""
    for _ in range(warmup):
        step()
    if before_timing is not None:
        before_timing()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t0)


# ----------------------------------------------------------- memory meters


def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _trim_heap() -> None:
    """Hand freed heap memory back to the OS (glibc), so that RSS shows what is still held."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_host_peak() -> bool:
    """Reset the process's RSS high-water mark (Linux >= 4.0); False where refused."""
    _trim_heap()
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


class _HostMeter:
    """Peak RSS of the process above its RSS at :meth:`base`."""

    kind = "host RSS"

    def __init__(self) -> None:
        self._base = 0

    def _rss(self) -> int:
        kib = _proc_status_kib("VmRSS")
        return (kib if kib is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024

    def phase(self) -> None:
        pass

    def base(self) -> None:
        _trim_heap()
        self._base = self._rss()

    def start(self) -> None:
        self._exact = _reset_host_peak()

    def peak(self) -> tuple[float, str]:
        hwm = _proc_status_kib("VmHWM") if self._exact else None
        if hwm is None:  # no reset possible: the cumulative maximum (Linux: KiB)
            return _mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self._base), ">"
        return _mib(hwm * 1024 - self._base), ""


class _JaxGpuMeter:
    """JAX device memory: peak_bytes_in_use (a process high-water mark that cannot be reset)."""

    kind = "JAX device memory"

    def __init__(self, device) -> None:
        self._device = device

    def _stats(self) -> dict:
        return self._device.memory_stats() or {}

    def base(self) -> None:
        gc.collect()
        self._base = self._stats().get("bytes_in_use", 0)

    def phase(self) -> None:
        self._before = self._stats().get("peak_bytes_in_use", 0)

    def start(self) -> None:
        pass  # no reset: the figure includes warm-up

    def peak(self) -> tuple[float, str]:
        peak = self._stats().get("peak_bytes_in_use", 0)
        return _mib(peak - self._base), ("<=" if peak <= self._before else "")


class _TfGpuMeter:
    kind = "TF GPU memory"

    def __init__(self, tf, name: str = "GPU:0") -> None:
        self._tf, self._name = tf, name

    def phase(self) -> None:
        pass

    def base(self) -> None:
        gc.collect()
        self._base = self._tf.config.experimental.get_memory_info(self._name)["current"]

    def start(self) -> None:
        self._tf.config.experimental.reset_memory_stats(self._name)

    def peak(self) -> tuple[float, str]:
        return _mib(self._tf.config.experimental.get_memory_info(self._name)["peak"] - self._base), ""


class _TorchCudaMeter:
    kind = "torch CUDA memory"

    def __init__(self, torch) -> None:
        self._torch = torch

    def phase(self) -> None:
        pass

    def base(self) -> None:
        gc.collect()
        self._torch.cuda.empty_cache()
        self._base = self._torch.cuda.memory_allocated()

    def start(self) -> None:
        self._torch.cuda.reset_peak_memory_stats()

    def peak(self) -> tuple[float, str]:
        return _mib(self._torch.cuda.max_memory_allocated() - self._base), ""


# ----------------------------------------------------------- backend and device


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
            else:
                name = platform.processor() or platform.machine()
    except OSError:
        name = platform.processor() or platform.machine()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name} ({cores} cores)"


def _keras_target():
    """(backend description, device description, on_gpu, memory meter) for the Keras backend."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        on_gpu = device.platform == "gpu"
        stats_ok = on_gpu and bool(device.memory_stats())
        meter = _JaxGpuMeter(device) if stats_ok else _HostMeter()
        name = device.device_kind if on_gpu else _cpu_name()
        return f"keras {keras.__version__}, jax {jax.__version__}", \
            f"{device.platform}: {name}", on_gpu, meter
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return f"keras {keras.__version__}, tensorflow {tf.__version__}", \
                f"gpu: {details.get('device_name', gpus[0].name)}", True, _TfGpuMeter(tf)
        return f"keras {keras.__version__}, tensorflow {tf.__version__}", \
            f"cpu: {_cpu_name()}", False, _HostMeter()
    if backend == "torch":
        import torch

        on_gpu = torch.cuda.is_available()
        return f"keras {keras.__version__}, torch {torch.__version__}", \
            (f"gpu: {torch.cuda.get_device_name(0)}" if on_gpu else f"cpu: {_cpu_name()}"), \
            on_gpu, (_TorchCudaMeter(torch) if on_gpu else _HostMeter())
    return f"keras {keras.__version__}, {backend}", f"cpu: {_cpu_name()}", False, _HostMeter()


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

    from . import models
    from .training import Stage, compile_for_stage

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
    out["infer_images_per_s"] = round(_rate(lambda: model.predict_on_batch(x), batch, steps,
                                            warmup, meter.start), 2)
    out["infer_peak_mib"], out["infer_peak_mark"] = meter.peak()
    if train:
        meter.phase()
        out["train_images_per_s"] = round(_rate(
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
    meter = _TorchCudaMeter(torch) if device.type == "cuda" else _HostMeter()
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
    out["infer_images_per_s"] = round(_rate(infer, batch, steps, warmup, meter.start), 2)
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

        out["train_images_per_s"] = round(_rate(train_step, batch, steps, warmup, meter.start),
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
    package_parent = str(Path(__file__).resolve().parent.parent)
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
        isolate = isinstance(meter, _HostMeter)

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


# ----------------------------------------------------------- input pipeline (§3.1.2(3))


def _pipeline_device() -> tuple[str, bool]:
    """(a description of the Keras backend's device, whether it is a GPU)."""
    import platform

    import keras

    backend = keras.backend.backend()
    try:
        gpus = keras.distribution.list_devices("gpu")
    except Exception:  # noqa: BLE001 - a backend without GPU support raises instead of []
        gpus = []
    if gpus:
        name = str(gpus[0])
        if backend == "tensorflow":
            import tensorflow as tf

            found = tf.config.list_physical_devices("GPU")
            if found:
                name = tf.config.experimental.get_device_details(found[0]).get("device_name", name)
        elif backend == "jax":
            import jax

            name = jax.devices()[0].device_kind
        return f"{backend} on gpu: {name}", True
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{backend} on cpu: {cpu} ({cores} cores)", False


def bench_input_pipeline(*, size: int = 480, images: int = 64, batch_size: int = 8,
                         train_steps: int = 3, root: str | os.PathLike | None = None) -> dict:
    """Can the paper's CPU augmentation (imgaug) keep the model fed? Prints a table and the verdict.

    Measured, all at ``size`` px, on ``images`` images (the first rows of ``root``'s
    ``label.csv``, or a synthetic set rendered at 512 px into a temporary folder):

    - **decode + resize** and **decode + resize + imgaug** (the paper's augmenters,
      ``augmentation.PAPER_AUGMENTERS``), in images/s **per CPU core**: one thread, with OpenCV
      held to one thread, after one untimed pass, so the files are in the page cache;
    - the **fast twin** (``augmentation.keras_layers``) on batches of ``batch_size``, in images/s
      on the Keras backend's device (inside a ``tf.function`` on TensorFlow, eager elsewhere): its
      cost inside a training step;
    - **Inception-v4** (canonical, the design-level multi-task model of ``models.build_model``)
      **training** images/s at ``size`` on the same device: ``train_steps`` steps of
      ``batch_size`` after one untimed step, mixed precision where a GPU is (as ``train`` does).
      On a few CPU cores this takes minutes and much memory: pass a small ``batch_size``.

    Verdict: cores needed for imgaug to feed the model = model images/s / (decode + resize +
    imgaug) images/s per core; beside it the same for decode + resize alone, which the fast twin
    leaves on the CPU. Returns the numbers as a dict.
    """
    import math
    import sys
    import tempfile

    from . import fashionai

    if images < 1 or batch_size < 1 or train_steps < 1:
        raise ValueError("images, batch_size and train_steps must be positive")
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        if root is None:
            from . import synthetic

            source = Path(tmp)
            # Rendered before Keras starts its backend; in one process once JAX runs (no fork).
            synthetic.generate(source, images_per_task=math.ceil(images / 8), seed=0, size=512,
                               workers=1 if "jax" in sys.modules else None, progress=False)
        else:
            source = Path(root)
        import keras

        from . import augmentation, models, training

        device, on_gpu = _pipeline_device()
        rows, _ = fashionai.read_labels(source)
        paths = [fashionai.safe_image_path(source, row.image) for row in rows[:images]]
        if not paths:
            raise ValueError(f"no images under {source}")
        n = len(paths)

        import cv2

        threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            decoded = [training.load_resized(p, size) for p in paths]  # untimed: page cache
            t0 = time.perf_counter()
            for p in paths:
                training.load_resized(p, size)
            decode_rate = n / (time.perf_counter() - t0)
            augment = augmentation.imgaug_augment(augmentation.PAPER_AUGMENTERS)
            augment(decoded[0], np.random.default_rng(0))  # builds the augmenters
            t0 = time.perf_counter()
            for i, p in enumerate(paths):
                augment(training.load_resized(p, size), np.random.default_rng([0, i]))
            imgaug_rate = n / (time.perf_counter() - t0)
        finally:
            cv2.setNumThreads(threads)

    # The fast twin on the device.
    batch = np.stack([decoded[i % n] for i in range(batch_size)]).astype("float32")
    layers_ = augmentation.keras_layers(augmentation.PAPER_AUGMENTERS, seed=0)

    def twin(x):
        for layer in layers_:
            x = layer(x, training=True)
        return keras.ops.sum(x)

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        twin = tf.function(twin, autograph=False)
    x = keras.ops.convert_to_tensor(batch)
    float(keras.ops.convert_to_numpy(twin(x)))  # trace / warm up
    reps = max(3, math.ceil(images / batch_size))
    t0 = time.perf_counter()
    for _ in range(reps):
        float(keras.ops.convert_to_numpy(twin(x)))
    twin_rate = reps * batch_size / (time.perf_counter() - t0)

    # Inception-v4 training on the same device.
    spec = models.ModelSpec(level="design", backbone="inception_v4", variant="canonical",
                            image_size=size)
    previous = keras.config.dtype_policy()
    keras.utils.set_random_seed(0)
    try:
        if on_gpu:
            keras.config.set_dtype_policy("mixed_float16")
        model = models.build_model(spec)
    finally:
        keras.config.set_dtype_policy(previous)
    training.compile_for_stage(model, training.Stage("adam", 1e-4, 1))
    tasks = spec.tasks
    rows = [fashionai.LabelRow(image=f"Images/{tasks[i % len(tasks)].key}/{i}.jpg",
                               task=tasks[i % len(tasks)].key,
                               labels="y" + "n" * (tasks[i % len(tasks)].n_values - 1), row=i + 1)
            for i in range(batch_size)]
    targets, weights = models.masked_targets(rows, tasks)
    xb = np.random.default_rng(0).uniform(0, 255, (batch_size, size, size, 3)).astype("float32")
    t0 = time.perf_counter()
    model.train_on_batch(xb, targets, sample_weight=weights)  # compiles
    compile_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(train_steps):
        loss = model.train_on_batch(xb, targets, sample_weight=weights)
    float(np.asarray(loss).ravel()[0])
    model_rate = train_steps * batch_size / (time.perf_counter() - t0)
    del model

    result = {
        "size": size, "images": n, "batch_size": batch_size, "train_steps": train_steps,
        "device": device, "source": "synthetic (512 px JPEG)" if root is None else str(root),
        "decode_resize_per_core": round(decode_rate, 2),
        "decode_resize_imgaug_per_core": round(imgaug_rate, 2),
        "imgaug_alone_per_core": round(1 / max(1 / imgaug_rate - 1 / decode_rate, 1e-9), 2),
        "twin_images_per_second": round(twin_rate, 1),
        "model_train_images_per_second": round(model_rate, 3),
        "model_compile_seconds": round(compile_seconds, 1),
        "cores_needed_imgaug": round(model_rate / imgaug_rate, 3),
        "cores_needed_decode_resize": round(model_rate / decode_rate, 3),
        "twin_share_of_step": round(model_rate / twin_rate, 4),
    }
    print(f"input pipeline at {size} px, {n} images ({result['source']}); device: {device}")
    print(f"  decode + resize                    {decode_rate:9.1f} img/s per core")
    print(f"  decode + resize + imgaug (paper)   {imgaug_rate:9.1f} img/s per core "
          f"(imgaug alone {result['imgaug_alone_per_core']:.1f})")
    print(f"  fast twin in the model             {twin_rate:9.1f} img/s (batch {batch_size}; "
          f"about {100 * result['twin_share_of_step']:.1f} % of a training step)")
    print(f"  Inception-v4 training at {size} px   {model_rate:9.2f} img/s (batch {batch_size}, "
          f"{train_steps} steps; first step {compile_seconds:.0f} s)")
    print(f"  verdict: cores needed for imgaug to feed the model = model img/s / imgaug img/s "
          f"per core = {model_rate:.3g} / {imgaug_rate:.3g} = "
          f"{model_rate / imgaug_rate:.3g} cores")
    print(f"           (decode + resize alone, what the fast twin leaves on the CPU: "
          f"{model_rate / decode_rate:.3g} cores)")
    return result


if __name__ == "__main__":
    import sys

    raise SystemExit(_worker_main(sys.argv[1:]))

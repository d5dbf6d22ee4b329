"""Timing, memory and device helpers shared by the benchmarks (:mod:`.models`, :mod:`.pipeline`).

Every function here imports only the standard library; the memory meters take the backend
module (TensorFlow, torch) or device (JAX) they read from their caller.
"""

from __future__ import annotations

import gc
import os
import platform
import resource
import time
from collections.abc import Callable

_MIB = 1024 * 1024


def mib(n_bytes: float) -> float:
    """Bytes in MiB, to 0.1."""
    return round(n_bytes / _MIB, 1)


# ----------------------------------------------------------- timing


def rate(step: Callable[[], object], batch: int, steps: int, warmup: int,
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


def reset_host_peak() -> bool:
    """Reset the process's RSS high-water mark (Linux >= 4.0); False where refused."""
    _trim_heap()
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


class HostMeter:
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
        self._exact = reset_host_peak()

    def peak(self) -> tuple[float, str]:
        hwm = _proc_status_kib("VmHWM") if self._exact else None
        if hwm is None:  # no reset possible: the cumulative maximum (Linux: KiB)
            return mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self._base), ">"
        return mib(hwm * 1024 - self._base), ""


class JaxGpuMeter:
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
        return mib(peak - self._base), ("<=" if peak <= self._before else "")


class TfGpuMeter:
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
        return mib(self._tf.config.experimental.get_memory_info(self._name)["peak"] - self._base), ""


class TorchCudaMeter:
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
        return mib(self._torch.cuda.max_memory_allocated() - self._base), ""


# ----------------------------------------------------------- backend and device


def cpu_name() -> str:
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


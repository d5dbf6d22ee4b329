"""Where a run came from: its profile, commit, times, machine and packages.

``reproduce`` writes :func:`record` to ``results/<profile>/provenance.json`` at the end of every
run; the results edition (``replication.book.edition``) carries it as ``edition/provenance.json``.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

from replication.book.profiles import SOURCE_ROOT

PROVENANCE = "provenance.json"
"""``{"profile", "commit", "started", "finished", "machine", "seconds", "total_seconds",
"packages"}`` (:func:`record`), beside a run's results."""


def machine() -> dict[str, Any]:
    """Cores, memory, CPU and GPU of this machine (``"none"`` without an NVIDIA GPU)."""
    memory = None
    try:
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = "none"
    if shutil.which("nvidia-smi"):
        done = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                              capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip():
            gpu = ", ".join(done.stdout.split("\n")).strip(", ")
    return {"cores": os.cpu_count(), "memory_gib": memory, "cpu": cpu, "gpu": gpu,
            "system": f"{platform.system()} {platform.release()}",
            "python": platform.python_version()}


def packages() -> dict[str, str]:
    """Name -> installed version of every dependency ``pyproject.toml`` pins."""
    import re
    import tomllib
    from importlib import metadata

    project = tomllib.loads((SOURCE_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    names = [re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0]
             for spec in project["project"]["dependencies"]]
    out = {}
    for name in sorted(names, key=str.lower):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def record(profile: str, *, started: str, finished: str,
           seconds: dict[str, float]) -> dict[str, Any]:
    """A run's provenance: profile, commit, start and end (UTC, ISO 8601), machine, seconds per
    step (the data, each chapter, the book: the latest time of each, as ``reproduce`` records
    them) and their sum, and the package versions."""
    from replication.book.glance import commit

    return {"profile": profile, "commit": commit(), "started": started, "finished": finished,
            "machine": machine(), "seconds": seconds,
            "total_seconds": round(sum(seconds.values()), 1), "packages": packages()}


def write(results_dir: Path, record: dict[str, Any]) -> Path:
    path = results_dir / PROVENANCE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path

"""Helpers the test modules share: a tiny stand-in base net, synthetic data sets rendered once
per session, the smoke reproduction started in the background, and notes printed at the end of
the run (the smoke reproduction's step times)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import pytest
from keras import layers

from replication.book import profiles, reproduce
from replication.book.profiles import get_profile

_NOTES = pytest.StashKey[list]()
SMOKE_FIXTURE = "smoke_run"
"""The fixture (below) of the tests that read the smoke reproduction."""


def tiny_backbone(spec) -> keras.Model:
    """Two strided convolutions and global average pooling: the shape of a base net (image in,
    pooled features out), in miniature, for any ``ModelSpec.image_size``."""
    image = keras.Input((spec.image_size, spec.image_size, 3))
    x = layers.Conv2D(4, 3, strides=2, activation="relu")(image)
    x = layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    return keras.Model(image, layers.GlobalAveragePooling2D()(x), name="tiny")


@pytest.fixture(scope="session")
def synthetic_set(tmp_path_factory):
    """``synthetic_set(images_per_task, size, seed=0)``: the root of a synthetic FashionAI set,
    rendered once per session for each distinct set of arguments. Shared: read it, never write
    into it (a test that must add files copies the set or writes beside it)."""
    from replication import synthetic

    rendered: dict[tuple[int, int, int], Path] = {}

    def render(images_per_task: int, size: int, seed: int = 0) -> Path:
        key = (images_per_task, size, seed)
        if key not in rendered:
            root = tmp_path_factory.mktemp(f"synthetic-n{images_per_task}-px{size}-seed{seed}")
            synthetic.generate(root, images_per_task=images_per_task, seed=seed, size=size,
                               workers=1, progress=False)
            rendered[key] = root
        return rendered[key]

    return render


@pytest.fixture(scope="module")
def data(synthetic_set) -> tuple[Path, list, list]:
    """A tiny design-level split of a 4-images-per-task set: ``(root, train_rows, val_rows)``,
    one image of each design task held out (4 images per task are too few to stratify by
    value). For the training tests."""
    from replication.data import fashionai

    root = synthetic_set(4, 48)
    rows, problems = fashionai.read_labels(root)
    assert not problems
    design = [r for r in rows if r.task.endswith("_design_labels")]
    val_rows = [rows_of_task[-1] for rows_of_task in
                ([r for r in design if r.task == task] for task in sorted({r.task for r in design}))]
    train_rows = [r for r in design if r not in val_rows]
    return root, train_rows, val_rows


@pytest.fixture(scope="session")
def session_notes(request) -> list[str]:
    """Lines printed in the terminal summary at the end of the run."""
    return request.config.stash.setdefault(_NOTES, [])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    notes = config.stash.get(_NOTES, [])
    if notes:
        terminalreporter.section("notes")
        for line in notes:
            terminalreporter.write_line(line)


# --------------------------------------------------------------------------- the smoke reproduction


def checkout_files() -> dict[str, tuple]:
    """Every path under the repository with its size and mtime (folders too), apart from .git,
    the virtual environment and bytecode caches (which any process importing the package may
    refresh, this test run included): what a reproduction must leave as it found it."""
    skip = {profiles.SOURCE_ROOT / ".git", Path(sys.prefix).resolve()}
    listing = {}
    for folder, dirs, files in os.walk(profiles.SOURCE_ROOT):
        dirs[:] = [d for d in dirs if d != "__pycache__" and Path(folder, d) not in skip]
        for name in dirs:
            listing[os.path.relpath(Path(folder, name), profiles.SOURCE_ROOT) + "/"] = ()
        for name in files:
            stat = Path(folder, name).lstat()
            listing[os.path.relpath(Path(folder, name), profiles.SOURCE_ROOT)] = (
                stat.st_size, stat.st_mtime_ns)
    return listing


class SmokeReproduction:
    """The README's reproduction (``python -m replication reproduce --profile smoke``) in a
    fresh home, in a background process, with the checkout's listing before it started and when
    it ended. It runs one notebook at a time while the unit tests use the other core, then two
    (:meth:`use_both_cores`), in the order ``reproduce.DEPENDS_ON`` allows."""

    def __init__(self, home: Path):
        self.home = home
        self.log = home.parent / f"{home.name}.stderr.txt"
        python_path = os.pathsep.join(
            p for p in (str(profiles.SOURCE_ROOT), os.environ.get("PYTHONPATH")) if p)
        # Measured on 2 cores: a smoke notebook keeps about one core busy, and a third process
        # beside two notebooks costs more than it gains (each process's thread pools spin: the
        # suite took 625 s where it took 583 s with two processes at a time). So the notebooks
        # run two at a time, except while the unit tests run: the jobs file lowers the limit.
        self.jobs_file = home.parent / f"{home.name}.jobs"
        self.jobs_file.write_text("1")
        # No bytecode either: the run leaves the checkout's __pycache__ folders alone.
        env = {**os.environ, profiles.HOME_ENV: str(home), "PYTHONPATH": python_path,
               "PYTHONDONTWRITEBYTECODE": "1", reproduce.JOBS_ENV: "2",
               reproduce.JOBS_FILE_ENV: str(self.jobs_file)}
        self.before = checkout_files()
        self.after: dict | None = None
        self.started = time.perf_counter()
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "replication", "reproduce", "--profile", "smoke",
                 "--no-progress"], cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)  # its own process group: stop() ends the kernels too
        self._watch = threading.Thread(target=self._list_when_done, daemon=True)
        self._watch.start()

    def _list_when_done(self) -> None:
        self.process.wait()
        self.after = checkout_files()

    def wait(self) -> int:
        """Block until the reproduction ended; its exit status."""
        self._watch.join()
        return self.process.returncode

    def use_both_cores(self) -> float:
        """Let two notebooks run at a time from now on (the unit tests are done); the seconds
        the reproduction ran one at a time."""
        self.jobs_file.write_text("2")
        return time.perf_counter() - self.started

    def output(self, chars: int = 6000) -> str:
        """The run's output without TensorFlow's and the kernel's start-up chatter: its progress
        lines and, on failure, the error naming the notebook and cell."""
        noise = ("I0000 ", "W0000 ", "E0000 ", "WARNING: All log messages", "[IPKernelApp] WARNING")
        lines = self.log.read_text(errors="replace").splitlines()
        return "\n".join(line for line in lines if not line.startswith(noise))[-chars:]

    def seconds(self) -> dict[str, float]:
        """The step times ``reproduce`` recorded (data, each notebook, the book); those of the
        steps that ran, if it failed."""
        path = self.home / "results" / "smoke" / reproduce.TIMINGS_FILE
        return json.loads(path.read_text()) if path.exists() else {}  # replaced atomically

    def summary(self) -> str:
        seconds = self.seconds()
        return ("smoke reproduction, seconds per step: "
                + ", ".join(f"{name} {value:.0f}" for name, value in seconds.items())
                + f"; total {sum(seconds.values()):.0f}")

    def stop(self) -> None:
        """End the reproduction and its notebook kernels if the session ends before it does."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


EXISTING_HOME_ENV = "REPLICATION_SMOKE_HOME"
"""Set to the home of a finished smoke reproduction (``REPLICATION_HOME=... python -m replication
reproduce --profile smoke``) to run the chapter tests on it instead of starting a fresh run:
for working on one chapter. The suite (``scripts/test.sh``, CI) never sets it."""


class FinishedReproduction(SmokeReproduction):
    """A smoke reproduction that already ran in ``home`` (see :data:`EXISTING_HOME_ENV`); the
    checkout listing before and after is today's, so the untouched-checkout test is vacuous."""

    def __init__(self, home: Path):  # noqa: super().__init__ would start a run
        self.home = home
        self.log = home / "results" / "smoke" / reproduce.TIMINGS_FILE
        self.before = self.after = checkout_files()

    def wait(self) -> int:
        return 0

    def use_both_cores(self) -> float:
        return 0.0

    def output(self, chars: int = 6000) -> str:
        return ""

    def stop(self) -> None:
        pass


def pytest_collection_modifyitems(config, items):
    """The tests that read the smoke reproduction run last (a stable sort), so that the unit
    tests run while the reproduction, started in the background, is still going."""
    items.sort(key=lambda item: SMOKE_FIXTURE in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session", autouse=True)
def smoke_reproduction(request, tmp_path_factory):
    """Starts the smoke reproduction before the first test when the session will read it (on 2
    cores the unit tests and the notebooks share the machine instead of waiting for each other);
    None when no selected test needs it. Stopped at the end of the session if still running."""
    needed = any(SMOKE_FIXTURE in getattr(item, "fixturenames", ())
                 for item in request.session.items)
    if not needed or request.config.option.collectonly:
        yield None
        return
    existing = os.environ.get(EXISTING_HOME_ENV)
    if existing:  # a developer's finished smoke run: read it instead of running one
        yield FinishedReproduction(Path(existing).resolve())
        return
    run = SmokeReproduction(tmp_path_factory.mktemp("home"))
    yield run
    run.stop()


# --------------------------------------------------------------------------- reading the smoke run


@dataclass(frozen=True)
class SmokeRun:
    """The smoke reproduction's home and profile (whose paths point into that home)."""

    home: Path
    profile: profiles.Profile
    checkout_before: dict
    checkout_after: dict

    def __getattr__(self, name):  # results_dir, default_data_root(), parameters(), ...
        if name.startswith("__") or name == "profile":
            raise AttributeError(name)
        return getattr(self.profile, name)

    def page(self, notebook: str) -> str:
        return (self.home / "_build" / "html" / "book" / "executed" / f"{notebook}.html").read_text()


@pytest.fixture(scope="session")
def smoke_run(smoke_reproduction, session_notes):
    """The README's reproduction (smoke profile, every notebook, the book), run once in a fresh
    home (conftest starts it in the background): it renders its own data and trains its own
    models, so it cannot pass on what an earlier run left in the checkout, and it must write
    nothing there."""
    assert smoke_reproduction is not None  # conftest starts it whenever this fixture is used
    alone = smoke_reproduction.use_both_cores()  # the tests that read it come last
    if alone:
        session_notes.append(f"the smoke reproduction ran one notebook at a time for {alone:.0f} s "
                             "beside the unit tests, then two")
    status = smoke_reproduction.wait()
    session_notes.append(smoke_reproduction.summary())
    assert status == 0, smoke_reproduction.output()
    home = smoke_reproduction.home
    with pytest.MonkeyPatch.context() as patch:  # the in-process readers look in the same home
        patch.setattr(profiles, "HOME", home)
        yield SmokeRun(home, get_profile("smoke"), smoke_reproduction.before,
                       smoke_reproduction.after)


def paths_in(value) -> list[str]:
    """Every path a numbers.json names (models, answer files, truth files): the strings with a
    folder separator and no space, as recorded (``results.shown``: relative to the run's home)."""
    if isinstance(value, dict):
        return [p for v in value.values() for p in paths_in(v)]
    if isinstance(value, list):
        return [p for v in value for p in paths_in(v)]
    return [value] if isinstance(value, str) and os.sep in value and " " not in value else []


def numbers_of(smoke_run, notebook: str) -> dict:
    return json.loads((smoke_run.results_dir / notebook / "numbers.json").read_text())


def submission_scores(smoke_run) -> dict:
    """Notebook 08's answer.csv, scored again, independently, against its label file."""
    from replication.data import metric

    folder = smoke_run.results_dir / "08_doublenet"
    return metric.evaluate_files(folder / "Annotations" / "label.csv", folder / "answer.csv")


def same_scores(recorded: dict, rescored: dict) -> None:
    """A recorded score (overall and per dimension) equals the rescored submission's: the same
    doubleNet, flip TTA, weights 0.5/0.5, whose probabilities each notebook blends again (sums
    in another order: APs to 1e-6)."""
    assert recorded["mAP"] == pytest.approx(rescored["mAP"], abs=1e-6)
    assert recorded["acc"] == pytest.approx(rescored["acc"], abs=1e-12)
    for task, entry in rescored["tasks"].items():
        assert recorded["tasks"][task]["ap"] == pytest.approx(entry["ap"], abs=1e-6), task
        assert (recorded["tasks"][task]["acc"], recorded["tasks"][task]["n"]) == pytest.approx(
            (entry["acc"], entry["n"]), abs=1e-12), task


def rescore_answer(numbers: dict, entry: dict) -> dict:
    """A size's or an arm's numbers scored again, independently, from the files the notebook wrote."""
    from replication.data import metric

    from replication.book.results import resolve

    return metric.evaluate_files(resolve(numbers["truth"]), resolve(entry["answer"]))


def run_config(model: str) -> dict:
    """The configuration a model trained under (its ``state.json``), as ``training.train`` wrote it."""
    from replication.book.results import resolve

    state = json.loads((resolve(model).parent / "state.json").read_text())
    assert state["completed_stages"] == len(state["config"]["schedule"])  # finished, not partial
    return state["config"]

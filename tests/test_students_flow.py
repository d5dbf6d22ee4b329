"""The students' flow (README): `bash scripts/lab.sh`, double-click a chapter, Run All. A
double-click opens a file with JupyterLab's default viewer for its type, which for Python files is
the text editor unless jupytext's documented setting names the notebook editor; scripts/env.sh
writes that setting into the virtual environment it sets up."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VIEWER = "Jupytext Notebook"


def test_env_sh_makes_jupyterlab_open_python_files_as_notebooks():
    venv = Path(sys.prefix)
    stamp = venv / ".pyproject.sha256"
    want = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text().strip() != want:
        pytest.skip("the tests do not run in the environment scripts/env.sh keeps (or it is "
                    "stale, and sourcing env.sh would reinstall it)")
    settings = venv / "etc" / "jupyter" / "labconfig" / "default_setting_overrides.json"
    settings.unlink(missing_ok=True)
    done = subprocess.run(["bash", "-c", f'source "{REPO}/scripts/env.sh"'], capture_output=True,
                          text=True, env={**os.environ, "REPLICATION_VENV": str(venv),
                                          "PYTHON": sys.executable}, timeout=120)
    assert done.returncode == 0, done.stderr
    viewers = json.loads(settings.read_text())["@jupyterlab/docmanager-extension:plugin"]
    assert viewers["defaultViewers"]["python"] == VIEWER
    # JupyterLab reads it there (every Jupyter config path's labconfig folder), and the viewer
    # it names is installed with the venv.
    from jupyter_server.services.config import ConfigManager

    read = ConfigManager(config_dir_name="labconfig").get("default_setting_overrides")
    assert read["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]["python"] == VIEWER
    assert (venv / "share" / "jupyter" / "labextensions" / "jupyterlab-jupytext").is_dir()


def test_a_chapter_opens_as_a_notebook_paired_with_its_ipynb_and_runs_with_its_defaults():
    """What the double-click opens: the py:percent chapter, paired with an .ipynb (the pair
    jupytext writes on save), whose parameters cell holds literal smoke defaults (no profile is
    injected when a student runs it)."""
    import jupytext
    from jupytext.config import load_jupytext_config

    chapter = REPO / "notebooks" / "02_resolution.py"
    pairs = [set(f.split(",")) for f in load_jupytext_config(str(chapter)).formats]
    assert {"ipynb", "py:percent"} in pairs
    notebook = jupytext.read(chapter)
    parameters = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and 'profile = "smoke"' in parameters[0].source

# Sourced by scripts/reproduce.sh and scripts/test.sh: makes sure .venv exists and matches
# pyproject.toml, then activates it. Reinstalls only when pyproject.toml changed.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${REPLICATION_VENV:-$repo/.venv}"
python="${PYTHON:-}"
if [ -z "$python" ]; then
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
    done
fi
if [ -z "$python" ]; then
    echo "error: no python3.11 or python3 on PATH; install Python 3.11 or set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
    echo "error: $python is Python $("$python" -c 'import platform; print(platform.python_version())'); this project pins Python 3.11 (set PYTHON=/path/to/python3.11)" >&2
    exit 1
fi
stamp="$venv/.pyproject.sha256"
want="$(sha256sum "$repo/pyproject.toml" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Setting up $venv from pyproject.toml (first run: a few minutes) ..." >&2
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e "$repo[test]"
    "$venv/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
    echo "$want" > "$stamp"
fi
# Students double-click notebooks/NN_name.py in JupyterLab: jupytext's documented setting makes
# the notebook editor the default viewer of Python files, written into the venv's own Jupyter
# config path (etc/jupyter, where JupyterLab reads labconfig overrides), not the user's ~/.jupyter.
lab_viewers="$venv/etc/jupyter/labconfig/default_setting_overrides.json"
if ! grep -q '"python": "Jupytext Notebook"' "$lab_viewers" 2>/dev/null; then
    "$venv/bin/jupytext-config" --settings-file "$lab_viewers" set-default-viewer python
fi
# shellcheck disable=SC1091
source "$venv/bin/activate"
export PYTHONHASHSEED=0

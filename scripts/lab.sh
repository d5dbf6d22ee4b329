#!/usr/bin/env bash
# Open the chapters in JupyterLab: a double-click on notebooks/NN_name.py opens it as a notebook
# (jupytext), its parameters cell holds the smoke profile's values, Run All works as it is, and
# saving writes the paired notebooks/NN_name.ipynb (jupytext.toml). Extra arguments go to
# `jupyter lab`. The first use sets up .venv (scripts/env.sh).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$repo"
exec jupyter lab notebooks "$@"

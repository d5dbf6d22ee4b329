#!/usr/bin/env bash
# Reproduce the book: generate the synthetic data if missing, run every notebook with papermill,
# build the Jupyter Book. Default profile: smoke (minutes on a laptop).
# Examples:  bash scripts/reproduce.sh
#            bash scripts/reproduce.sh --profile synthetic
#            bash scripts/reproduce.sh --profile paper --data-root /data/fashionAI
# Output (data/, results/, book/executed/, _build/) goes into the checkout, or into
# $REPLICATION_HOME when set (the test suite's smoke run uses a fresh temporary one).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$repo"
exec python -m replication reproduce "$@"

#!/usr/bin/env bash
# Run the test suite (unit tests and the smoke reproduction of every notebook).
# Extra arguments go to pytest, e.g.  bash scripts/test.sh -m "not slow"
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$repo"
exec python -m pytest "$@"

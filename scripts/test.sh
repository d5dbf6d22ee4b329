#!/usr/bin/env bash
# Run the test suite: the unit tests, and the smoke reproduction of every notebook (started in the
# background in a fresh temporary home, so it never sees nor touches the checkout's data/results).
# Extra arguments go to pytest, e.g.  bash scripts/test.sh -m "not slow"  (no reproduction)
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$repo"
exec python -m pytest "$@"

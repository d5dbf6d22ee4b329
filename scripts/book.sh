#!/usr/bin/env bash
# Build the HTML book from the committed results edition (edition/), without training:
# _build/edition/_build/html/index.html (under $REPLICATION_HOME when set).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$repo"
exec python -m replication book "$@"

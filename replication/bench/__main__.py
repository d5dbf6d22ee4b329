"""``python -m replication.bench --worker KIND PARAMS``: the model benchmark's isolated worker."""

import sys

from replication.bench.models import _worker_main

raise SystemExit(_worker_main(sys.argv[1:]))

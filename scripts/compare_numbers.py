"""Compare the numbers.json files of two runs of a profile, chapter by chapter.

Used to check that a change which should move no number (a refactoring) moved none:

    python scripts/compare_numbers.py OLD_HOME/results/smoke NEW_HOME/results/smoke OLD_HOME NEW_HOME

Keys that measure time (``*per_second*``, ``*seconds*``, ``*speed*``) are left out, and each run's
home prefix is replaced by ``<HOME>`` in strings, so paths compare by where they are inside the
home. Prints each chapter as ``equal`` or its differences; exits 1 when any differ. Values that
still depend on the home's absolute path (``data_fingerprint``) show up as differences.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

TIMING = re.compile(r"per_second|seconds|speed")


def normalised(value, home: str):
    if isinstance(value, dict):
        return {k: normalised(v, home) for k, v in value.items() if not TIMING.search(k)}
    if isinstance(value, list):
        return [normalised(v, home) for v in value]
    if isinstance(value, str):
        return value.replace(home, "<HOME>")
    return value


def differences(a, b, path: str = ""):
    if type(a) is not type(b):
        yield f"{path}: {a!r} != {b!r}"
    elif isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                yield f"{path}/{key}: only in the {'new' if key in b else 'old'} run"
            else:
                yield from differences(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, list):
        if len(a) != len(b):
            yield f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            yield from differences(x, y, f"{path}[{i}]")
    elif a != b:
        yield f"{path}: {a!r} != {b!r}"


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    old_results, new_results = Path(argv[0]), Path(argv[1])
    old_home, new_home = str(Path(argv[2])), str(Path(argv[3]))
    found = 0
    for old in sorted(old_results.glob("*/numbers.json")):
        new = new_results / old.parent.name / "numbers.json"
        if not new.exists():
            print(f"{old.parent.name}: missing in the new run")
            found += 1
            continue
        diff = list(differences(normalised(json.loads(old.read_text()), old_home),
                                normalised(json.loads(new.read_text()), new_home)))
        print(f"{old.parent.name}: " + ("equal" if not diff else f"{len(diff)} differences"))
        for line in diff:
            print("   ", line)
        found += len(diff)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

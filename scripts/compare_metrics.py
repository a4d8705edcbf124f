"""Compare two metrics trees value by value, exactly: what a refactor moved, and by how much.

    python scripts/compare_metrics.py BEFORE/metrics AFTER/metrics [--show 8]

``dvc metrics diff`` compares revisions; this compares two runs' folders (e.g. two scratch worktrees of
``scripts/ci_reproduce.py --keep`` at two commits), every JSON file, every leaf value, with no tolerance.
A file whose differences are all floats within 1e-12 relative is marked so (floating-point summation
order, not a result).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path

ABSENT = "<absent>"


def leaves(value, path: str = "") -> Iterator[tuple[str, object]]:
    """``(dotted path, value)`` of every leaf of a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def differences(before: dict, after: dict) -> list[tuple[str, object, object]]:
    out = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key, ABSENT), after.get(key, ABSENT)
        both_nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
        if a != b and not both_nan:
            out.append((key, a, b))
    return out


def rounding_only(diffs: list[tuple[str, object, object]]) -> bool:
    return all(isinstance(a, float) and isinstance(b, float) and abs(a - b) <= 1e-12 * max(1.0, abs(a))
               for _, a, b in diffs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--show", type=int, default=8, help="differences printed per file")
    args = parser.parse_args()
    files = sorted({p.relative_to(args.before) for p in args.before.rglob("*.json")}
                   | {p.relative_to(args.after) for p in args.after.rglob("*.json")})
    identical = values = 0
    for file in files:
        if not (args.before / file).is_file() or not (args.after / file).is_file():
            print(f"{file}: only {'before' if (args.before / file).is_file() else 'after'}")
            continue
        before = dict(leaves(json.loads((args.before / file).read_text())))
        after = dict(leaves(json.loads((args.after / file).read_text())))
        values += len(set(before) | set(after))
        diffs = differences(before, after)
        if not diffs:
            identical += 1
            continue
        note = " (all within 1e-12 relative)" if rounding_only(diffs) else ""
        print(f"{file}: {len(diffs)} of {len(before)} values differ{note}")
        for key, a, b in diffs[: args.show]:
            print(f"    {key}: {a!r} -> {b!r}")
    print(f"{identical} of {len(files)} files identical; {values} values compared")
    return 0


if __name__ == "__main__":
    sys.exit(main())

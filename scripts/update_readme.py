"""Splice reports/results.md into README.md between <!-- results:start --> and <!-- results:end -->.

Usage: python scripts/update_readme.py [--check]
  --check  exit 1 if README.md is out of date with reports/results.md, writing nothing (for CI)
"""

import argparse
import sys
from pathlib import Path

from worldprobe.io import atomic_path
from worldprobe.readme import rebase_links, splice_results
from worldprobe.spacetime.report import RESULTS_PATH

README = Path("README.md")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="report whether README.md is up to date")
    args = parser.parse_args()
    if not RESULTS_PATH.is_file():
        print(f"{RESULTS_PATH}: not found; run `dvc repro report` first", file=sys.stderr)
        return 1
    results = rebase_links(RESULTS_PATH.read_text(), RESULTS_PATH.parent, README.parent)
    old = README.read_text()
    new = splice_results(old, results)
    if args.check:
        if new != old:
            print(f"{README} is out of date with {RESULTS_PATH}: run python scripts/update_readme.py", file=sys.stderr)
            return 1
        return 0
    if new != old:
        with atomic_path(README) as tmp:
            tmp.write_text(new)
    print(f"{README}: results section {'updated' if new != old else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write the README's generated blocks from committed files (worldprobe.site.docs): the summary (between
<!-- summary:start --> and <!-- summary:end -->), one paragraph per study from its metrics, and the set-up
times (<!-- times:start --> ... <!-- times:end -->) from benchmarks/setup_times.json.

Usage: python scripts/update_readme.py [--check]
  --check  exit 1 if README.md or a docs/*.md report is stale, writing nothing (docs/*.md: rerun the
           study's report stage, e.g. `dvc repro report`)
"""

import argparse
import sys

from worldprobe.io import atomic_path
from worldprobe.site.docs import README, generated_readme, stale_docs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="name stale reports and README, write nothing")
    args = parser.parse_args()
    if args.check:
        stale = stale_docs()
        for path in stale:
            print(f"{path} is stale", file=sys.stderr)
        return 1 if stale else 0
    old, new = README.read_text(), generated_readme()
    if new != old:
        with atomic_path(README) as tmp:
            tmp.write_text(new)
    print(f"{README}: generated blocks {'updated' if new != old else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

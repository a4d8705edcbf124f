"""Time the README's commands as a new user runs them: a fresh clone of HEAD, then install, the tests and
the first look, each timed on its own; writes benchmarks/setup_times.json, which the README's set-up
block is generated from (``python scripts/update_readme.py``).

Usage: python benchmarks/setup_times.py [--keep]   (commit first: the clone is of HEAD)

The clone gets ``../shared`` beside it as a link to this checkout's, as CI lays it out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "setup_times.json"
COMMANDS = {
    "install": ["bash", "scripts/install.sh"],
    "tests": [".venv/bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
    "first_look": ["bash", "scripts/first_look.sh"],
}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the clone")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="worldprobe-setup-"))
    clone = scratch / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    (scratch / "shared").symlink_to((REPO / ".." / "shared").resolve())
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, check=True, capture_output=True,
                            text=True).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    seconds, tests = {}, ""
    try:
        for name, command in COMMANDS.items():
            print(f"+ {' '.join(command)}", flush=True)
            tick = time.perf_counter()
            done = subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True)
            seconds[name] = round(time.perf_counter() - tick, 1)
            print(f"  {seconds[name]:.0f} s, exit {done.returncode}", flush=True)
            if done.returncode:
                print(done.stdout[-5000:], done.stderr[-5000:], file=sys.stderr)
                return 1
            if name == "tests":  # pytest's closing line: "N passed, M skipped in ..."
                tests = re.findall(r"^=* ?(\d+ passed.*?) in [\d.]+s", done.stdout, re.M)[-1]
            if name == "first_look":  # it keeps its worktree for a person to look at; this run does not
                kept = re.search(r"first look done in (\S+):", done.stdout)
                if kept:
                    shutil.rmtree(Path(kept.group(1)).parent, ignore_errors=True)
    finally:
        if args.keep:
            print(f"clone kept: {clone}")
        else:
            subprocess.run(["git", "worktree", "prune"], cwd=clone, capture_output=True)
            shutil.rmtree(scratch, ignore_errors=True)
    record = {"commit": commit, "date": date.today().isoformat(), "cpu": cpu_name(), "cpus": os.cpu_count(),
              "seconds": seconds, "tests": tests}
    OUT.write_text(json.dumps(record, indent=2) + "\n")
    print(f"{OUT.relative_to(REPO)}: {record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

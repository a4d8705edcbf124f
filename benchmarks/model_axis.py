"""What the model axis adds to the default run: each of its stages run and timed, then the sum set against
the whole default run's time before the axis existed (``benchmarks/pipeline_all.log``).

    .venv/bin/python benchmarks/model_axis.py            # prepare_models, model_activations, model_axis
    .venv/bin/python benchmarks/model_axis.py --log F    # write the timings to F (default benchmarks/model_axis.log)

Runs the stage scripts as DVC would (outputs rewritten in place; they are deterministic), without DVC's own
bookkeeping, so a stale upstream stage is not rerun with them; afterwards `dvc commit` the stages.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from worldprobe.config import load_params

REPO = Path(__file__).resolve().parents[1]
BEFORE_LOG = REPO / "benchmarks" / "pipeline_all.log"
TOTAL = re.compile(r"^total\s+([\d.]+) s")


def default_run_seconds(log: Path = BEFORE_LOG) -> float:
    """The whole default run's wall time that ``pipeline_stages.sh --all`` logged (its ``total`` line)."""
    for line in log.read_text().splitlines():
        if match := TOTAL.match(line):
            return float(match.group(1))
    raise ValueError(f"{log}: no total line; run `bash benchmarks/pipeline_stages.sh --all`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, default=REPO / "benchmarks" / "model_axis.log")
    args = parser.parse_args()
    params = load_params(REPO / "params.yaml")
    if not params.models:
        sys.exit("models: is empty in params.yaml: no model axis to time")
    commands = [(f"prepare_models@{m}", ["stages/prepare_model.py", m]) for m in params.models]
    commands += [(f"model_activations@{m}-{ds}", ["stages/activations.py", ds, "--model", m])
                 for m in params.models for ds in params.data.datasets]
    commands += [(f"model_axis@{ds}", ["stages/model_axis.py", ds]) for ds in params.data.datasets]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    lines = [f"# {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} the model axis ({', '.join(params.models)}), "
             f"{cpu}, load before: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}"]
    print(lines[0], flush=True)
    total = 0.0
    for name, command in commands:
        start = time.perf_counter()
        subprocess.run([sys.executable, *command], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        took = time.perf_counter() - start
        total += took
        lines.append(f"{name:<44} {took:8.1f} s")
        print(lines[-1], flush=True)
    before = default_run_seconds()
    lines.append(f"{'total':<44} {total:8.1f} s ({total / 60:.1f} min)")
    lines.append(f"# the default run before the axis: {before / 60:.1f} min ({BEFORE_LOG.name}); with it "
                 f"{(before + total) / 60:.1f} min, +{total / before:.1%}")
    print("\n".join(lines[-2:]))
    args.log.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Wall-clock time of one dataset's compute stages, forced to rerun (outputs are deterministic, so
# they come back byte-identical). Multiply by the number of datasets for a whole-pipeline estimate.
# Usage: bash benchmarks/pipeline_stages.sh [dataset]   (default: world; needs `dvc repro` done once)
set -euo pipefail
cd "$(dirname "$0")/.."
dataset=${1:-world}
export PATH="$PWD/.venv/bin:$PATH"
ms() { echo $(( $(date +%s%N) / 1000000 )); }
total=0
for stage in activations probes generalization; do
  start=$(ms)
  dvc repro -f -s "$stage@$dataset" > /dev/null
  took=$(( $(ms) - start ))
  total=$(( total + took ))
  printf '%-24s %6d.%01d s\n' "$stage@$dataset" $(( took / 1000 )) $(( took % 1000 / 100 ))
done
printf '%-24s %6d.%01d s\n' "total" $(( total / 1000 )) $(( total % 1000 / 100 ))

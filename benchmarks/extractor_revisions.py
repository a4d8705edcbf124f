"""Benchmark: the activation extractor of two git revisions, side by side, and whether they agree bit for bit.

Each revision is checked out into a scratch worktree; rounds alternate between them (base, head, base,
head, ...), each a fresh process that loads the model, extracts every layer of the same world places
through that revision's ``LastTokenExtractor`` and reports entities per second, so a shared machine
slows both alike. The activations of the last round of each are compared byte for byte.

Usage: python benchmarks/extractor_revisions.py BASE [HEAD] [--rounds 3] [--n 384] [--threads 2]
                                                [--models-dir models] [--entities data/entities/world.parquet]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Runs inside each round's process, against the revision on its PYTHONPATH. The extractor's import
# path moved with the package (``worldprobe.activations`` before the rehousing); both are tried.
ROUND = r"""
import hashlib, json, os, sys, time
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np, torch
torch.set_num_threads(int(sys.argv[5]))
try:
    from worldprobe.lm.activations import LastTokenExtractor, tokenize_prompts
    from worldprobe.lm.models import load_model
    from worldprobe.lm.prompts import prompt_spec
except ImportError:
    from worldprobe.activations import LastTokenExtractor, tokenize_prompts
    from worldprobe.models import load_model
    from worldprobe.prompts import prompt_spec
from worldprobe.config import ModelConfig
from worldprobe.records import read_entities

table, _ = read_entities(sys.argv[1])
table = table.sample(n=min(int(sys.argv[2]), len(table)), random_state=0)
loaded = load_model(ModelConfig(name=sys.argv[3]), sys.argv[4])
spec = prompt_spec("world", "main", None, 10)
prompts = tokenize_prompts(loaded.tokenizer, table["id"], table["text"], spec)
extractor = LastTokenExtractor(loaded)
next(extractor.run(prompts.tokens[:32], batch_size=32))  # warm-up
out = np.empty((len(extractor.layers), len(prompts.tokens), loaded.d_model), dtype=np.float32)
tick = time.perf_counter()
for rows, acts in extractor.run(prompts.tokens, batch_size=32):
    out[:, rows] = acts.float().cpu().numpy()
seconds = time.perf_counter() - tick
print(json.dumps({"entities_per_s": len(prompts.tokens) / seconds, "sha256": hashlib.sha256(out.tobytes()).hexdigest()}))
"""


def worktree(rev: str, into: Path) -> Path:
    path = into / rev.replace("/", "_")
    subprocess.run(["git", "worktree", "add", "--detach", "-f", str(path), rev], cwd=REPO, check=True,
                   capture_output=True)
    return path


def run_round(src: Path, args: argparse.Namespace) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))
    done = subprocess.run([sys.executable, "-c", ROUND, str(Path(args.entities).resolve()), str(args.n), args.model,
                           str(Path(args.models_dir).resolve()), str(args.threads)],
                          env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="git revision to compare against (e.g. a commit before a change)")
    parser.add_argument("head", nargs="?", default="HEAD")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=384, help="entities (seeded sample of the table)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--entities", default="data/entities/world.parquet")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="worldprobe-bench-"))
    revs = {"base": args.base, "head": args.head}
    trees = {name: worktree(rev, scratch) for name, rev in revs.items()}
    try:
        results: dict[str, list[dict]] = {"base": [], "head": []}
        for r in range(args.rounds):
            for name in ("base", "head"):
                results[name].append(run_round(trees[name] / "src", args))
                print(f"round {r + 1} {name} ({revs[name]}): {results[name][-1]['entities_per_s']:.1f} entities/s",
                      flush=True)
    finally:
        for tree in trees.values():
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    rate = {name: statistics.median(r["entities_per_s"] for r in rounds) for name, rounds in results.items()}
    same = results["base"][-1]["sha256"] == results["head"][-1]["sha256"]
    print(f"median entities/s: base {rate['base']:.1f}, head {rate['head']:.1f}; "
          f"head / base = {rate['head'] / rate['base']:.3f} over {args.rounds} alternating rounds")
    print(f"activations (every layer, {args.n} entities): {'bit-identical' if same else 'DIFFERENT'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

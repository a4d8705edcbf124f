"""Benchmark: the familiarity readout, surprisal read from the answer's own passes vs a second pass.

Two arms on the same seeded entities of one dataset, with the stage's few-shot prompt, interleaved
chunk by chunk so that a loaded machine slows them alike:

* **two passes** (the stage until this benchmark was written): the answer (candidate scores for
  places, a greedy year for time), then a second forward of every prompt with the LM head at every
  position, for the entity's surprisal;
* **one pass** (now): the answer's question pass hands its hidden states to the surprisal, and the
  LM head runs only at the positions before each entity token (Gemma-3-270M's head, 262k × 640,
  costs more per position than all 18 blocks).

Prints each arm's seconds and entities/s, the ratio, and the largest surprisal difference.

Usage: python benchmarks/familiarity.py <dataset> [--n 200] [--chunk 50] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as in the stage

import numpy as np
import torch

from worldprobe.config import load_params
from worldprobe.familiarity.labels import Question, candidate_set, choose_entities, gold_answers, year_text
from worldprobe.lm.models import load_model
from worldprobe.lm.readout import FewShotReadout
from worldprobe.records import read_entities
from worldprobe.threads import set_torch_threads


@torch.inference_mode()
def surprisal_second_pass(readout: FewShotReadout, entities: list[str]) -> np.ndarray:
    """The former ``entity_surprisal``: every prompt again, logits at every position after the shared prefix."""
    tokens, last, inside = readout._prompts(entities)
    shared = readout._shared_length(tokens, [i[0] - 1 for i in inside])
    out = np.empty(len(entities))
    for rows in readout._batches(tokens, last):
        ids = torch.tensor([tokens[r][shared:] for r in rows])
        logits = readout.loaded.model(input_ids=ids, cache=readout._fresh_cache(shared, len(rows)), use_cache=True).logits
        logp = torch.log_softmax(logits.float(), dim=-1)
        for i, r in enumerate(rows):
            out[r] = -np.mean([logp[i, p - 1 - shared, tokens[r][p]].item() for p in inside[r]])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset")
    parser.add_argument("--n", type=int, default=200, help="entities (the stage's seeded labelled sample, first n)")
    parser.add_argument("--chunk", type=int, default=50, help="entities per arm turn")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    params = load_params()
    cfg = params.familiarity
    set_torch_threads(args.threads)
    table, info = read_entities(Path("data/entities") / f"{args.dataset}.parquet")
    question = Question.for_dataset(args.dataset, info.kind)
    gold = gold_answers(table, args.dataset, info.kind, info.groups[0] if info.groups else None)
    candidates = candidate_set(gold, cfg.min_candidate_entities) if info.kind == "place" else None
    labelled, shots = choose_entities(table, gold, cfg, params.seed, False, candidates)
    answer_of = str if info.kind == "place" else year_text
    prefix = "".join(question.example(table["text"].iloc[r], answer_of(gold.iloc[r])) for r in shots)
    readout = FewShotReadout(load_model(params.model), prefix, question.prompt, batch_size=cfg.batch_size)
    texts = table.loc[labelled, "text"].astype(str).tolist()[: args.n]
    texts = [t for t, ok in zip(texts, readout.usable(texts)) if ok]

    def answer(chunk: list[str], surprisal: np.ndarray | None = None):
        if candidates is not None:
            return readout.score_candidates(chunk, candidates, normalize=cfg.score, surprisal=surprisal)
        return readout.generate(chunk, max_new_tokens=cfg.max_new_tokens, surprisal=surprisal)

    def two_passes(chunk: list[str]) -> np.ndarray:
        answer(chunk)
        return surprisal_second_pass(readout, chunk)

    def one_pass(chunk: list[str]) -> np.ndarray:
        out = np.empty(len(chunk))
        answer(chunk, out)
        return out

    arms = {"two passes": two_passes, "one pass": one_pass}
    answer(texts[:2])  # warm up (the few-shot prefix's cache)
    seconds, surprisal = dict.fromkeys(arms, 0.0), {name: [] for name in arms}
    for start in range(0, len(texts), args.chunk):
        chunk = texts[start : start + args.chunk]
        for name, arm in arms.items():
            tick = time.perf_counter()
            surprisal[name].append(arm(chunk))
            seconds[name] += time.perf_counter() - tick

    n = len(texts)
    print(f"{args.dataset} ({info.kind}): {n} labelled entities, {params.model.name}, {args.threads} threads, "
          f"batch {cfg.batch_size}, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    for name in arms:
        print(f"{name:>10}: {seconds[name]:6.1f} s  {n / seconds[name]:6.2f} entities/s")
    print(f"one pass / two passes: {seconds['two passes'] / seconds['one pass']:.2f}x")
    diff = np.abs(np.concatenate(surprisal["one pass"]) - np.concatenate(surprisal["two passes"]))
    print(f"surprisal, |one pass - two passes|: max {diff.max():.1e} nats")


if __name__ == "__main__":
    main()

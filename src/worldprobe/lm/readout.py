"""What the model *says* about an entity: a few-shot question, read as scores or as generated text.

Shared by the causal-intervention stage (does an edit of the residual stream change the answer?) and
the familiarity stage (does the model know the entity at all?).

:class:`FewShotReadout` asks ``prefix + question.format(entity=...)`` and either scores candidate
answers (log-probabilities of their token sequences as the continuation) or decodes greedily. The
few-shot prefix is run once and its key/value cache copied to every batch. Rows are batched only
with rows of the same token length, so no padding ever enters the computation: a row's scores do
not depend on which rows share its batch, beyond float summation order.

A :class:`ResidualEdit` adds a vector to the residual stream at the entity's last token during the
question pass only. Its hook is removed before any candidate or generated token runs, so the edit
reaches the answer only through the prompt's key/value cache and the prompt's last position (which
predicts the answer's first token) - as an edit of the entity's representation should.

Layers are numbered as the activation store numbers them (:mod:`worldprobe.lm.engine`, whose hooks
do the editing and reading): a probe fitted on store layer l reads exactly the vector this edit changes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from transformers import DynamicCache

from .engine import Edit, PrefixCache, residual_hooks
from .models import LoadedModel, decoder_blocks


class ReadoutError(ValueError):
    """A prompt the readout cannot use as specified (e.g. the entity's last token merges with the next text)."""


@dataclass(frozen=True)
class ResidualEdit:
    """Add ``delta`` to store layer ``layer`` at the entity's last token of the question pass.

    ``delta``: ``(d_model,)`` for every row, or ``(n_entities, d_model)``, row i for entity i of the call.
    """

    layer: int
    delta: np.ndarray


_YEAR = re.compile(
    r"(?<![\d.])(\d{1,4})(?![\d.]*\d)(?!\s*(?:st|nd|rd|th|s)\b)(\s*(?:B\.?\s?C\.?(?:E\.?)?|BCE))?", re.IGNORECASE
)


def parse_year(text: str | None, lo: int = -999, hi: int = 2100) -> float | None:
    """The first number of 1-4 digits in ``text`` that reads as a calendar year in [lo, hi], else None.

    "BC"/"BCE" after it makes it negative (384 BC -> -384, the entity tables' convention). Ordinals
    and decades ("15th", "1990s") are not years.
    """
    if not isinstance(text, str):
        return None
    for match in _YEAR.finditer(text):
        year = -int(match.group(1)) if match.group(2) else int(match.group(1))
        if year != 0 and lo <= year <= hi:
            return float(year)
    return None


def _common_length(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the prefix every sequence starts with, short of the shortest one's end (each keeps a token)."""
    n = min(len(s) for s in sequences) - 1
    for k in range(n):
        if len({tuple(s[: k + 1]) for s in sequences}) > 1:
            return k
    return max(n, 0)


def _distinct_length(tokens: list[int], others: Sequence[list[int]]) -> int:
    """Length of the shortest prefix of ``tokens`` that is a prefix of no other sequence (at most all of it)."""
    for n in range(1, len(tokens) + 1):
        if sum(o[:n] == tokens[:n] for o in others) == 1:  # itself only
            return n
    return len(tokens)


class FewShotReadout:
    """A few-shot question prompt whose shared prefix's KV cache is computed once.

    ``prefix``: the few-shot examples (``"Q: In which country is Paris?\\nA: France\\n\\n"``);
    ``question``: a template with ``{entity}`` (``"Q: In which country is {entity}?\\nA:"``). Candidate
    answers and generations continue right after the question, candidates with one leading space.
    """

    def __init__(self, model: LoadedModel, prefix: str, question: str, *, batch_size: int = 16):
        if question.count("{entity}") != 1:
            raise ReadoutError(f"question must contain {{entity}} exactly once: {question!r}")
        self.loaded = model
        self.prefix = prefix
        self.question = question
        self.batch_size = batch_size
        self.blocks = decoder_blocks(model.model)
        tok = model.tokenizer
        self._bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
        self._prefix_ids = self._bos + tok(prefix, add_special_tokens=False)["input_ids"]
        self._prefixes: dict[int, PrefixCache] = {}  # by shared length
        self.device = next(model.model.parameters()).device

    # ----------------------------------------------------------------- prompts

    def _prompt(self, entity: str) -> tuple[list[int], int, list[int]]:
        """Token ids (BOS included), index of the entity's last token, index of each entity token."""
        if not entity.strip():
            raise ReadoutError("blank entity")
        head = self.prefix + self.question[: self.question.index("{entity}")]
        start, end = len(head), len(head) + len(entity)
        text = self.prefix + self.question.format(entity=entity)
        enc = self.loaded.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        inside = [i for i, (a, b) in enumerate(offsets) if a < end and b > start]
        if not inside:
            raise ReadoutError(f"entity {entity!r} has no token of its own in the prompt")
        last = inside[-1]
        if offsets[last][1] > end:
            raise ReadoutError(
                f"the last token of {entity!r} ({text[offsets[last][0]:offsets[last][1]]!r}) merges with the text "
                "after it, so no position holds the entity alone"
            )
        shift = len(self._bos)
        return self._bos + enc["input_ids"], last + shift, [i + shift for i in inside]

    def usable(self, entities: Sequence[str]) -> np.ndarray:
        """Mask of the entities this prompt can be asked about (not blank; last entity token not merged)."""
        keep = np.ones(len(entities), bool)
        for i, entity in enumerate(entities):
            try:
                self._prompt(entity)
            except ReadoutError:
                keep[i] = False
        return keep

    def _prompts(self, entities: Sequence[str]) -> tuple[list[list[int]], list[int], list[list[int]]]:
        built = [self._prompt(e) for e in entities]
        return [b[0] for b in built], [b[1] for b in built], [b[2] for b in built]

    def _shared_length(self, tokens: Sequence[Sequence[int]], ends: Sequence[int]) -> int:
        """Tokens of the few-shot prefix that every prompt starts with, stopping before each ``ends[i]``."""
        n = len(self._prefix_ids)
        for t, end in zip(tokens, ends):
            k = 0
            while k < min(n, end) and t[k] == self._prefix_ids[k]:
                k += 1
            n = k
        return n

    def _batches(self, tokens: Sequence[Sequence[int]], last: Sequence[int]):
        """Row-index batches of prompts with equal length and equal entity end: no padding, one edit position."""
        groups: dict[tuple[int, int], list[int]] = {}
        for i, (t, e) in enumerate(zip(tokens, last)):
            groups.setdefault((len(t), e), []).append(i)
        for rows in groups.values():
            for s in range(0, len(rows), self.batch_size):
                yield np.asarray(rows[s : s + self.batch_size])

    def _fresh_cache(self, shared: int, n_rows: int) -> DynamicCache:
        """A copy of the cache of the few-shot prefix's first ``shared`` tokens for ``n_rows`` rows."""
        if shared not in self._prefixes:
            self._prefixes[shared] = PrefixCache(self.loaded.model, self._prefix_ids[:shared])
        return self._prefixes[shared].fresh(n_rows)

    def _deltas(self, edit: ResidualEdit | None, n: int) -> torch.Tensor | None:
        if edit is None:
            return None
        if not 0 <= edit.layer <= self.loaded.n_layers:
            raise ReadoutError(f"edit layer must lie in 0..{self.loaded.n_layers}, got {edit.layer}")
        delta = np.asarray(edit.delta)
        if delta.ndim == 1:
            delta = np.broadcast_to(delta, (n, delta.shape[0]))
        if delta.shape != (n, self.loaded.d_model):
            raise ReadoutError(f"edit delta must be ({self.loaded.d_model},) or ({n}, {self.loaded.d_model}), got {delta.shape}")
        return torch.as_tensor(np.ascontiguousarray(delta), dtype=self.loaded.model.dtype, device=self.device)

    # ----------------------------------------------------------------- forward passes

    def _passes(self, entities: Sequence[str], edit: ResidualEdit | None, capture: int | None = None,
                surprisal: np.ndarray | None = None):
        """Question passes over ``entities``, batch by batch: yields ``(rows, cache, value)`` (see :meth:`_question_pass`).

        ``surprisal``: an ``(n_entities,)`` array to fill with :meth:`entity_surprisal` from the same passes.
        """
        tokens, last, inside = self._prompts(entities)
        # surprisal reads the position before the entity's first token: it must not lie in the shared prefix
        shared = self._shared_length(tokens, last if surprisal is None else [i[0] - 1 for i in inside])
        deltas = self._deltas(edit, len(entities))
        into = None if surprisal is None else (inside, surprisal)
        for rows in self._batches(tokens, last):
            yield rows, *self._question_pass(tokens, rows, shared, last, edit.layer if edit else 0, deltas, capture, into)

    def _question_pass(
        self, tokens, rows, shared: int, last, edit_layer: int, deltas: torch.Tensor | None, capture: int | None = None,
        surprisal: tuple[list[list[int]], np.ndarray] | None = None,
    ):
        """Run the prompts of ``rows`` (one batch of :meth:`_batches`), edited if asked.

        The tokens before the entity's last one cannot see the edit, so they run once per distinct
        prompt (conditions of one entity share them); from the entity's last token on, every row
        runs with its own edit. Returns ``(cache, final-norm hidden state at the last position)`` (the LM
        head runs where its logits are read, :meth:`_logits`), or with ``capture``
        ``(cache, store layer `capture` at the entity's last token)`` (the forward stops there).
        ``surprisal``: ``(entity token positions per prompt, array)``: each row's entity surprisal is
        written into the array, read from this pass's hidden states before the entity's last token.
        """
        heads = [tuple(tokens[r][shared : last[r]]) for r in rows]
        unique = sorted(set(heads))
        order = torch.tensor([unique.index(h) for h in heads], device=self.device)
        cache = self._fresh_cache(shared, len(unique))
        if heads[0]:
            hidden = self.loaded.model.base_model(
                input_ids=torch.tensor(unique, device=self.device), cache=cache, use_cache=True
            ).last_hidden_state
            if surprisal is not None:
                inside, into = surprisal
                into[rows] = self._surprisal(hidden[order], [tokens[r] for r in rows], [inside[r] for r in rows], shared)
        cache.batch_select_indices(order)
        ids = torch.tensor([tokens[r][last[r] :] for r in rows], device=self.device)
        at = torch.zeros(len(rows), dtype=torch.long, device=self.device)  # the entity's last token: position 0 here
        edit = None if deltas is None else Edit(edit_layer, at, deltas[torch.as_tensor(rows)])
        with residual_hooks(self.blocks, capture=() if capture is None else (capture,), positions=at, edit=edit) as hooked:
            out = self.loaded.model.base_model(input_ids=ids, cache=cache, use_cache=True)
        if hooked.stopped:
            return cache, hooked.captured[capture].float()
        return cache, out.last_hidden_state[:, -1:]  # (B, 1, d): the LM head then runs as in the model's own forward

    # ----------------------------------------------------------------- public readouts

    def candidate_tokens(self, candidates: Sequence[str]) -> list[list[int]]:
        """Each candidate's token ids as the continuation of the question (one leading space)."""
        tail = self.question[self.question.index("{entity}") + len("{entity}") :]
        tok = self.loaded.tokenizer
        tail_ids = tok(tail, add_special_tokens=False)["input_ids"]
        out = []
        for cand in candidates:
            ids = tok(tail + " " + cand.strip(), add_special_tokens=False)["input_ids"]
            if ids[: len(tail_ids)] != tail_ids or len(ids) == len(tail_ids):
                raise ReadoutError(f"candidate {cand!r} does not tokenise as a continuation of {tail!r}")
            out.append(ids[len(tail_ids) :])
        return out

    @torch.inference_mode()
    def score_candidates(
        self,
        entities: Sequence[str],
        candidates: Sequence[str],
        *,
        normalize: Literal["sum", "mean", "distinct"] = "mean",
        relative: bool = False,
        edit: ResidualEdit | None = None,
        surprisal: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(n_entities, n_candidates)`` log-probabilities of each candidate's tokens as the continuation.

        Multi-token candidates are scored token by token from the edited prompt's cache, teacher forced.
        ``sum``: the candidate's sequence log-probability; ``mean``: per token (long names are not
        penalised); ``distinct``: the log-probability of the candidate's shortest token prefix that no
        other candidate shares ("United Kingdom" -> "United", "Kingdom"; "Japan" -> "Japan"): once a
        name is unambiguous among the candidates its rest adds little but cost, and a softmax over
        these scores is the model's choice among the candidates. ``relative``: scores up to one
        constant per entity, which a softmax over the candidates cancels: the tokens every candidate
        starts with are not scored, and at the first position where they part only the candidates'
        logits are computed, not the full vocabulary's normaliser (the LM head costs more than the
        blocks). ``surprisal``: an ``(n_entities,)`` array filled with :meth:`entity_surprisal` from
        the same passes (no second pass).
        """
        if normalize not in ("sum", "mean", "distinct"):
            raise ReadoutError(f"normalize must be 'sum', 'mean' or 'distinct', got {normalize!r}")
        if relative and normalize == "mean":
            raise ReadoutError("relative scores are sums: a per-token mean would scale the per-entity constant")
        full = self.candidate_tokens(candidates)
        cand_ids = [tuple(c[: _distinct_length(c, full)]) if normalize == "distinct" else tuple(c) for c in full]
        start = _common_length(cand_ids) if relative else 0
        # positions read: each candidate's token s is read after its first s tokens (s = 0: the question's end);
        # the continuations run are the longest such prefixes (a shorter one is read inside a longer one)
        reads: dict[tuple[int, ...], list[tuple[int, int]]] = {}  # prefix -> [(candidate, token)]
        for j, c in enumerate(cand_ids):
            for s in range(start, len(c)):
                reads.setdefault(c[:s], []).append((j, c[s]))
        conts = sorted(p for p in reads if p and not any(o != p and o[: len(p)] == p for o in reads))
        where = {p: (next(k for k, c in enumerate(conts) if c[: len(p)] == p), len(p) - 1) for p in reads if p}
        out = np.empty((len(entities), len(candidates)))
        for rows, cache, last in self._passes(entities, edit, surprisal=surprisal):
            scores = torch.zeros(len(rows), len(candidates), dtype=torch.float64)
            hidden = self._continuation_hidden(cache, len(rows), conts) if conts else None  # (B, K, width, d)
            for prefix, targets in reads.items():
                k, at = where.get(prefix, (0, 0))
                h = last[:, 0] if not prefix else hidden[:, k, at]
                tokens = [t for _, t in targets]
                if relative and len(prefix) == start:  # every candidate is read here: its normaliser is common
                    logp = self._logits(h, tokens)
                elif not prefix:
                    logp = torch.log_softmax(self._logits(last)[:, 0], dim=-1)[:, tokens]
                else:
                    logp = torch.log_softmax(self._logits(h), dim=-1)[:, tokens]
                scores[:, [j for j, _ in targets]] += logp.double()
            if normalize == "mean":
                scores /= torch.tensor([len(c) for c in full], dtype=scores.dtype)
            out[rows] = scores.cpu().numpy()
        return out

    def _logits(self, hidden: torch.Tensor, tokens: Sequence[int] | None = None) -> torch.Tensor:
        """The LM head on final-norm hidden states (with Gemma's logit soft-capping where configured);
        with ``tokens``, only those tokens' logits."""
        head = self.loaded.model.get_output_embeddings()
        if tokens is None:
            logits = head(hidden).float()
        else:
            bias = None if head.bias is None else head.bias[tokens]
            logits = torch.nn.functional.linear(hidden, head.weight[tokens], bias).float()
        cap = getattr(self.loaded.model.config.get_text_config(), "final_logit_softcapping", None)
        return torch.tanh(logits / cap) * cap if cap else logits

    def _continuation_hidden(self, cache: DynamicCache, n_rows: int, conts) -> torch.Tensor:
        """Final-norm hidden states after each token of each continuation, from every row's prompt cache.

        Continuations are right-padded to the longest: a real token never attends to a later pad, and
        only real positions are read. The LM head runs later, only where a candidate token is scored
        (for Gemma-3 the head costs more than all blocks).
        """
        K, width = len(conts), max(len(c) for c in conts)
        ids = torch.full((K, width), self.loaded.tokenizer.pad_token_id or 0, dtype=torch.long)
        for k, c in enumerate(conts):
            ids[k, : len(c)] = torch.tensor(c)
        cache.batch_repeat_interleave(K)  # row r's prompt repeated for each continuation
        hidden = self.loaded.model.base_model(
            input_ids=ids.repeat(n_rows, 1).to(self.device), cache=cache, use_cache=True
        ).last_hidden_state
        return hidden.view(n_rows, K, width, -1)

    @torch.inference_mode()
    def generate(self, entities: Sequence[str], *, max_new_tokens: int, edit: ResidualEdit | None = None,
                 surprisal: np.ndarray | None = None) -> list[str]:
        """Greedy continuation text per entity, cut at the first newline (the few-shot answer's end).

        ``surprisal``: as in :meth:`score_candidates`.
        """
        eos = self.loaded.tokenizer.eos_token_id
        texts = [""] * len(entities)
        for rows, cache, last in self._passes(entities, edit, surprisal=surprisal):
            logits = self._logits(last)[:, 0]
            generated = [[] for _ in rows]
            done = np.zeros(len(rows), bool)
            for _ in range(max_new_tokens):
                nxt = logits.argmax(-1)
                for i, t in enumerate(nxt.tolist()):
                    if not done[i]:
                        if t == eos:
                            done[i] = True
                        else:
                            generated[i].append(t)
                            done[i] = "\n" in self.loaded.tokenizer.decode(generated[i])
                if done.all():
                    break
                logits = self.loaded.model(
                    input_ids=nxt[:, None], cache=cache, use_cache=True, logits_to_keep=1
                ).logits[:, -1].float()
            for i, r in enumerate(rows):
                texts[r] = self.loaded.tokenizer.decode(generated[i], skip_special_tokens=True).split("\n")[0].strip()
        return texts

    @torch.inference_mode()
    def next_token_logprobs(self, entities: Sequence[str], *, edit: ResidualEdit | None = None) -> np.ndarray:
        """``(n_entities, vocab)`` log-probabilities of the token after the question."""
        return self._per_row(entities, edit, capture=None, fn=lambda last: torch.log_softmax(self._logits(last)[:, 0], dim=-1))

    @torch.inference_mode()
    def residual(self, entities: Sequence[str], layer: int, *, edit: ResidualEdit | None = None) -> np.ndarray:
        """``(n_entities, d_model)`` store layer ``layer`` at the entity's last token (edited if asked).

        With ``prefix`` + ``question`` = a dataset's main prompt this is the activation store's vector.
        """
        if not 0 <= layer <= self.loaded.n_layers:
            raise ReadoutError(f"layer must lie in 0..{self.loaded.n_layers}, got {layer}")
        return self._per_row(entities, edit, capture=layer, fn=lambda hidden: hidden)

    def _per_row(self, entities, edit, capture, fn) -> np.ndarray:
        out = None
        for rows, _, value in self._passes(entities, edit, capture):
            value = fn(value).double().cpu().numpy()
            if out is None:
                out = np.empty((len(entities), value.shape[1]))
            out[rows] = value
        return out

    @torch.inference_mode()
    def entity_surprisal(self, entities: Sequence[str]) -> np.ndarray:
        """Mean negative log-probability (nats) of each entity's own tokens in the question prompt."""
        out = np.empty(len(entities))
        for _ in self._passes(entities, None, capture=0, surprisal=out):  # capture 0: nothing after the entity runs
            pass
        return out

    def _surprisal(self, hidden: torch.Tensor, tokens, inside, shared: int) -> np.ndarray:
        """Mean NLL of each row's entity tokens from its final-norm hidden states from position ``shared`` on.

        The LM head runs only at the positions read (the one before each entity token), not at every position.
        """
        row = [i for i, positions in enumerate(inside) for _ in positions]
        at = [p - 1 - shared for positions in inside for p in positions]
        target = [tokens[i][p] for i, positions in enumerate(inside) for p in positions]
        logp = torch.log_softmax(self._logits(hidden[row, at]), dim=-1)[torch.arange(len(row)), target]
        return np.bincount(row, weights=-logp.double().cpu().numpy()) / [len(p) for p in inside]

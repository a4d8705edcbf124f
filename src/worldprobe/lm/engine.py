"""The one hook engine on a decoder LM's residual stream: capture, edit, stop early, shared-prefix cache.

Hook points are numbered as the activation store numbers its layers, and named as it names them:

* store layer 0, ``embed``: the input to block 0 (the embedding output, with whatever the model adds
  before the blocks: Gemma's sqrt(d_model) scaling, GPT-2's position embeddings), read and edited by a
  forward *pre*-hook on block 0;
* store layer l >= 1, ``blocks.{l-1}.resid_post``: the output of block l - 1 (0-based), before any
  final norm, read and edited by a forward hook on block l - 1.

A probe fitted on store layer l reads exactly the vector an edit at layer l changes.
:func:`residual_hooks` puts the hooks of one forward pass on the blocks and takes them all off after
it, whatever happens; :class:`PrefixCache` runs a token prefix once and hands each batch its own copy
of the key/value cache.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch.utils.hooks import RemovableHandle
from transformers import DynamicCache

from .models import decoder_blocks


def layer_name(layer: int) -> str:
    """The store's name of hook point ``layer`` (see the module docstring)."""
    return "embed" if layer == 0 else f"blocks.{layer - 1}.resid_post"


def register_layer_hook(
    blocks: torch.nn.ModuleList, layer: int, fn: Callable[[torch.Tensor], torch.Tensor | None]
) -> RemovableHandle:
    """Call ``fn(hidden)`` on the residual stream at store layer ``layer``; a tensor it returns replaces it."""
    if layer == 0:

        def pre_hook(module, args, kwargs):
            hidden = fn(args[0] if args else kwargs["hidden_states"])
            if hidden is None:
                return None
            if args:
                return (hidden,) + tuple(args[1:]), kwargs
            return args, {**kwargs, "hidden_states": hidden}

        return blocks[0].register_forward_pre_hook(pre_hook, with_kwargs=True)

    def hook(module, args, output):
        hidden = fn(output[0] if isinstance(output, tuple) else output)
        if hidden is None:
            return None
        return (hidden,) + tuple(output[1:]) if isinstance(output, tuple) else hidden

    return blocks[layer - 1].register_forward_hook(hook)


def count_hooks(model: torch.nn.Module) -> int:
    """Forward (pre-)hooks on every module: equal before and after a hooked call (modules may carry their own)."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@dataclass(frozen=True)
class Edit:
    """Add ``delta[i]`` (``(rows, d_model)``, the hidden state's dtype) to row i at ``positions[i]`` of store layer ``layer``."""

    layer: int
    positions: torch.Tensor
    delta: torch.Tensor

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = hidden.clone()  # the block's own output stays as it was
        hidden[torch.arange(len(self.positions), device=hidden.device), self.positions] += self.delta
        return hidden


class _StopForward(Exception):
    """Raised by the hook at the stop layer: nothing after it is computed."""


@dataclass
class HookedPass:
    """What :func:`residual_hooks` saw: ``captured[layer]`` is ``(rows, d_model)``; ``stopped``: it cut the forward."""

    captured: dict[int, torch.Tensor] = field(default_factory=dict)
    stopped: bool = False


@contextmanager
def residual_hooks(
    blocks: torch.nn.ModuleList,
    *,
    capture: Sequence[int] = (),
    positions: torch.Tensor | None = None,
    edit: Edit | None = None,
    stop_after: int | None = None,
) -> Iterator[HookedPass]:
    """Hooks for the forward pass run inside the block; all removed when it ends, however it ends.

    ``capture``: store layers to read, row i at ``positions[i]``, in the hidden state's dtype.
    ``stop_after``: the store layer after which the forward stops (by default the last captured one;
    the body is left at that point, no error), and the block raises if the forward did not get there.
    ``edit`` runs before a capture at its layer, so the capture sees it; an edit after the stop never runs.
    """
    run = HookedPass()
    stop = max(capture, default=None) if stop_after is None else stop_after

    def keep(layer: int, hidden: torch.Tensor) -> None:
        run.captured[layer] = hidden[torch.arange(hidden.shape[0], device=hidden.device), positions]

    def halt(hidden: torch.Tensor) -> None:
        raise _StopForward

    handles = []
    try:
        # hooks on one module run in registration order: edit, then capture, then stop
        if edit is not None:
            handles.append(register_layer_hook(blocks, edit.layer, edit))
        for layer in sorted(set(capture)):
            handles.append(register_layer_hook(blocks, layer, lambda hidden, layer=layer: keep(layer, hidden)))
        if stop is not None:
            handles.append(register_layer_hook(blocks, stop, halt))
        yield run
    except _StopForward:
        run.stopped = True
    finally:
        for handle in handles:
            handle.remove()
    if stop is not None and not run.stopped:
        raise RuntimeError(f"the forward pass did not reach store layer {stop}")


class PrefixCache:
    """The key/value cache of one token prefix, run through the model once, on first use.

    ``through``: the last store layer the passes after the prefix run (they stop there), so the
    prefix stops there too; at least block 0 runs, as its cache gives the later tokens their positions.
    :meth:`fresh` hands out a copy for each batch, since a forward appends to its cache in place.
    """

    def __init__(self, model: torch.nn.Module, ids: Sequence[int], through: int | None = None):
        self.model = model
        self.ids = list(ids)
        self.through = through
        self._cache: DynamicCache | None = None

    def fresh(self, n_rows: int) -> DynamicCache:
        """A copy of the prefix's cache repeated for ``n_rows`` rows (an empty cache for an empty prefix)."""
        if self._cache is None:
            self._cache = DynamicCache(config=self.model.config)
            if self.ids:
                device = next(self.model.parameters()).device
                stop = None if self.through is None else max(self.through, 1)
                with torch.inference_mode(), residual_hooks(decoder_blocks(self.model), stop_after=stop):
                    # `cache` is the name transformers 5 gives the key/value cache (`past_key_values` goes in 5.40)
                    self.model.base_model(input_ids=torch.tensor([self.ids], device=device), cache=self._cache, use_cache=True)
        cache = copy.deepcopy(self._cache)
        cache.batch_repeat_interleave(n_rows)
        return cache

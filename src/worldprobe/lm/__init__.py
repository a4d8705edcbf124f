"""The language-model core: loading a model, its prompts, and one hook engine that extraction, the
few-shot readout and the causal edits all run through."""

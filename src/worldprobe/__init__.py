"""worldprobe: reproducible probes for world models in language models."""

__version__ = "0.1.0"

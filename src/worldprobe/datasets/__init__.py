"""The ``build`` stage's library: raw tables -> normalised, deduplicated, filtered, split entity tables.

* :mod:`.text`: entity strings as the model sees them (the paper's normalisations).
* :mod:`.parsing`: strict parsing of raw text cells into numbers, years and booleans.
* :mod:`.recipes`: per-dataset mapping of raw columns to entity columns, with counted rejections.
* :mod:`.build`: deduplication, filters, split, subsample, and the accounting of every raw row.
"""

from .build import BuildResult, build_entities, read_raw, write_build
from .recipes import FILTER_REASONS, REJECT_REASONS, BuildError

__all__ = [
    "BuildError", "BuildResult", "FILTER_REASONS", "REJECT_REASONS", "build_entities",
    "read_raw", "write_build",
]

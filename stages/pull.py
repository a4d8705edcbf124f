"""pull: one dataset's raw rows (snapshot, live or the user's file) -> data/raw/<dataset>.parquet.

Usage: python stages/pull.py <dataset>
"""

import logging
import sys

from worldprobe.config import ConfigError, load_params
from worldprobe.io import atomic_path
from worldprobe.sources import SourceError, fetch_raw
from worldprobe.sources.files import UserFileError, require_tracked
from worldprobe.sources.snapshot import SnapshotError
from worldprobe.stage import stage_argument

log = logging.getLogger("pull")


def pull(name: str) -> None:
    params = load_params()
    if name in params.data.datasets and params.data.datasets[name].source == "file":
        require_tracked(name, params.data.datasets[name])
    table = fetch_raw(name, params)
    with atomic_path(f"data/raw/{name}.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    source = params.data.datasets[name].source
    log.info("%s: %d rows, %d columns from %s -> data/raw/%s.parquet", name, len(table), table.shape[1], source, name)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    name = stage_argument(__doc__)
    try:
        pull(name)
    except (ConfigError, SnapshotError, SourceError, UserFileError) as exc:
        # a known problem with input or network: its message says what to do, a traceback would not
        sys.exit(f"pull {name}: {exc}")


if __name__ == "__main__":
    main()

"""Build one dataset's entity table: ``python stages/build.py <dataset>``.

Reads ``data/raw/<dataset>.parquet``; writes ``data/entities/<dataset>.parquet``,
``data/rejected/<dataset>.csv`` (every removed row and why) and ``metrics/data/<dataset>.json``.
"""

import sys

from worldprobe.config import ConfigError
from worldprobe.datasets import BuildError, build_entities, read_raw, write_build
from worldprobe.stage import dataset_and_params, stage_argument


def main(argv: list[str]) -> int:
    dataset = stage_argument(__doc__, argv)
    try:
        _, params = dataset_and_params(__doc__, argv)
        raw = read_raw(f"data/raw/{dataset}.parquet")
        result = build_entities(raw, dataset, params.data.datasets[dataset], params.seed)
    except (ConfigError, BuildError) as exc:
        print(f"build {dataset}: {exc}", file=sys.stderr)
        return 1
    write_build(result)
    r = result.report
    print(
        f"{dataset}: {r.rows_in} rows in -> {r.rows_out.train} train + {r.rows_out.test} test; "
        f"removed {r.rejected_total} rejected, {r.duplicates_removed} duplicates, "
        f"{r.filtered_total} filtered, {r.subsampled} subsampled (reasons in data/rejected/{dataset}.csv)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

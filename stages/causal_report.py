"""Stage causal_report: the causal test's report, every number from the committed metrics.

Usage: python stages/causal_report.py
Reads metrics/intervention/*.json and plots/intervention/figures/*.png; writes docs/causal.md.
"""

from worldprobe.causal import docs
from worldprobe.io import atomic_path


def main() -> None:
    with atomic_path(docs.DOC_PATH) as tmp:
        tmp.write_text(docs.render())
    print(f"causal report: {docs.DOC_PATH}")


if __name__ == "__main__":
    main()

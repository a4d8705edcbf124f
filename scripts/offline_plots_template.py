"""Write an HTML template that makes ``dvc plots show`` work offline (Vega scripts inline, not from a CDN).

Usage: python scripts/offline_plots_template.py [PATH]     (default .dvc/tmp/offline_plots.html)
then   dvc plots show --html-template .dvc/tmp/offline_plots.html
or once: dvc config --local plots.html_template tmp/offline_plots.html   (relative to .dvc/)
"""

import sys
from pathlib import Path

from worldprobe.io import atomic_path
from worldprobe.site.page import dvc_plots_template

if __name__ == "__main__":
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    path = Path(sys.argv[1] if len(sys.argv) == 2 else ".dvc/tmp/offline_plots.html")
    with atomic_path(path) as tmp:
        tmp.write_text(dvc_plots_template(), encoding="utf-8")
    print(f"wrote {path}; now: dvc plots show --html-template {path}")

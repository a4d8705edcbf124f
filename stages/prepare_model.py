"""Stage prepare_model: make models/<model.name>/ so that later stages load the model in seconds.

Usage: python stages/prepare_model.py [<name>]
With a name, the model of the model axis models.<name> instead.
"""

import logging
import sys

from worldprobe.config import load_params
from worldprobe.lm.models import prepare_model


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    params = load_params()
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    print(prepare_model(params.for_model(sys.argv[1]).model if len(sys.argv) == 2 else params.model, "models"))


if __name__ == "__main__":
    main()

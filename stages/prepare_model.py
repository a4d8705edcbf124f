"""Stage prepare_model: make models/<model.name>/ so that later stages load the model in seconds.

Usage: python stages/prepare_model.py
"""

import logging

from worldprobe.config import load_params
from worldprobe.lm.models import prepare_model


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(prepare_model(load_params().model, "models"))


if __name__ == "__main__":
    main()

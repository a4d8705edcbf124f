"""Build the seeded Karel train/val/test corpus: data/karel/corpus/{train,val,test}.npz + meta.json."""

from worldprobe.config import load_params
from worldprobe.karel.sampler import write_corpus

CORPUS = "data/karel/corpus"


def main() -> None:
    params = load_params()
    meta = write_corpus(CORPUS, params.karel.active, params.seed)
    print(f"karel corpus ({params.karel.profile}): {meta['sizes']} -> {CORPUS}")


if __name__ == "__main__":
    main()

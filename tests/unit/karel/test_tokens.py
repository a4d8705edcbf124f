import random

import numpy as np
import pytest

from worldprobe.config import KarelProfile
from worldprobe.karel.sampler import build_split
from worldprobe.karel.tokens import (
    TOKEN_ID,
    VOCAB,
    TokenError,
    decode_program,
    decode_text,
    decode_world,
    encode_program,
    encode_prompt,
    encode_world,
    prompt_length,
)
from worldprobe.karel.world import random_world


def test_vocabulary_is_small_and_unique():
    assert len(VOCAB) == len(set(VOCAB)) < 100


def test_world_round_trip():
    rng = random.Random(0)
    for size in (2, 4, 6):
        for _ in range(100):
            w = random_world(rng, size, 0.2, 0.3)
            ids = encode_world(w)
            assert len(ids) == size * size
            assert decode_world(ids, size) == w


def test_text_round_trip_of_a_corpus_split():
    prof = KarelProfile(n_train=30)
    split = build_split(prof, 0, "train", 30)
    texts = split.texts()
    assert texts.shape[1] == prompt_length(4, 5) + 6 + 1
    for i in range(len(split)):
        inputs, outputs, program = decode_text(texts[i].tolist(), 4)
        assert inputs == split.worlds(i, "in")[:5] and outputs == split.worlds(i, "out")[:5]
        assert program == split.program(i)
        assert texts[i].tolist()[: prompt_length(4, 5)] == encode_prompt(inputs, outputs)
        assert np.array_equal(split.prompts()[i], texts[i, : prompt_length(4, 5)])


def test_program_round_trip_and_errors():
    program = ["move", "turn_left", "pick_marker"]
    assert decode_program(encode_program(program)) == program
    with pytest.raises(TokenError, match="not an action"):
        decode_program([TOKEN_ID["move"], TOKEN_ID["#"]])


def test_malformed_grids_are_rejected():
    ids = encode_world(random_world(random.Random(0), 3, 0.0, 0.0))
    with pytest.raises(TokenError, match="9 cells"):
        decode_world(ids[:-1], 3)
    two_robots = [TOKEN_ID["^0"]] * 2 + [TOKEN_ID["."]] * 7
    with pytest.raises(TokenError, match="exactly one robot"):
        decode_world(two_robots, 3)
    with pytest.raises(TokenError, match="not a cell token"):
        decode_world([TOKEN_ID["move"]] + ids[1:], 3)

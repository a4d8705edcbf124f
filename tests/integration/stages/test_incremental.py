"""The incremental stage end to end on the probes stage's outputs in the scratch workspace of conftest.py: a
place dataset with a planted code of the coordinates (random blocks) and a time dataset that is noise."""

import pytest

from tests.integration.stages.conftest import run_stage
from worldprobe.io import read_json
from worldprobe.stats import Sign, interval_sign


@pytest.fixture(scope="module")
def incremental(outputs):
    with pytest.MonkeyPatch.context() as mp:
        for dataset in ("world", "people"):
            run_stage(outputs, "incremental", dataset, mp)
    return outputs


def _sign(d: dict) -> Sign:
    return interval_sign(d["ci_low"], d["ci_high"])


def test_the_planted_code_adds_to_every_control_and_noise_to_none(incremental):
    world = read_json(incremental / "metrics/incremental/world.json")
    probes = read_json(incremental / "metrics/probes/world.json")
    assert world["n_test"] == probes["n_test"] and world["resampling"] == "test entities"
    assert set(world["adds"]) == {"surface", "layer0", "layer0_token_mean", "random_weights"}
    assert all(d["diff"] > 0.5 and _sign(d) is Sign.ABOVE for d in world["adds"].values())
    block = world["block"]  # random blocks: the oracle knows nothing, the code everything
    assert block["block"] == "block" and block["oracle_r2"] < 0.05 and block["beyond_block_share"] > 0.8
    assert block["unseen_test_blocks"] == block["missing_block_entities"] == 0
    fixed = block["fixed_effects"]  # the block unshrunk: the code still explains what the blocks do not
    assert _sign(fixed["gain"]) is Sign.ABOVE and fixed["share"] > 0.8 and fixed["r2"] > 0.8
    assert all(_sign(d) is Sign.ABOVE for d in world["within_block_spearman"].values())

    people = read_json(incremental / "metrics/incremental/people.json")
    assert people["block"] is None  # a time block is cut from the target: no oracle
    assert all(_sign(d) is not Sign.ABOVE for d in people["adds"].values())

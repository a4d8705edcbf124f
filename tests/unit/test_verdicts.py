from tests.fixtures.spacetime import MODEL
from worldprobe.verdicts import Outcome, judge, plain_verdict


def test_judge_compares_each_control_with_the_interval():
    verdicts = {v.control: v.outcome for v in judge((0.50, 0.60), {"surface": 0.70, "layer0": 0.55, "random_weights": 0.1})}
    assert verdicts == {"surface": Outcome.BEATEN, "layer0": Outcome.INDISTINGUISHABLE, "random_weights": Outcome.BEATS}
    missing = judge((0.5, 0.6), {"surface": None, "layer0": 0.1, "random_weights": 0.1})
    assert missing[0].outcome is Outcome.NOT_MEASURED


def test_plain_verdict_claims_a_representation_only_when_every_control_is_beaten():
    all_beaten = judge((0.5, 0.6), {"surface": 0.1, "layer0": 0.2, "random_weights": 0.3})
    assert plain_verdict("place", MODEL, all_beaten).startswith("The probe beats every control")
    surface_wins = judge((0.5, 0.6), {"surface": 0.7, "layer0": 0.2, "random_weights": 0.3})
    text = plain_verdict("place", MODEL, surface_wins)
    assert text.startswith("Not established") and "surface form" in text and "layer 0" in text

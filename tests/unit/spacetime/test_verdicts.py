from tests.fixtures.spacetime import MODEL
from worldprobe.spacetime.verdicts import Outcome, beyond_block_sentence, judge, plain_verdict
from worldprobe.stats import PairedDifference

CONTROLS = {"surface": 0.6, "layer0": 0.5, "layer0_token_mean": 0.55, "random_weights": 0.1}


def _d(low: float, high: float) -> PairedDifference:
    return PairedDifference(diff=(low + high) / 2, ci_low=low, ci_high=high)


def test_judge_reads_the_paired_interval_of_each_difference():
    verdicts = {v.control: v.outcome for v in
                judge({"surface": _d(-0.2, -0.05), "layer0": _d(-0.02, 0.03), "random_weights": _d(0.3, 0.5)}, CONTROLS)}
    assert verdicts == {"surface": Outcome.BEATEN, "layer0": Outcome.NOT_ESTABLISHED,
                        "layer0_token_mean": Outcome.NOT_MEASURED, "random_weights": Outcome.BEATS}
    missing = judge({"layer0": _d(0.1, 0.2), "random_weights": _d(0.1, 0.2)}, {**CONTROLS, "surface": None})
    assert missing[0].outcome is Outcome.NOT_MEASURED and missing[1].control_r2 == 0.5


def test_plain_verdict_claims_a_representation_only_when_every_control_is_beaten():
    all_beaten = judge({c: _d(0.01, 0.2) for c in CONTROLS}, CONTROLS)
    assert plain_verdict("place", MODEL, all_beaten).startswith("The probe beats every control")
    surface_wins = judge({"surface": _d(-0.3, -0.1), "layer0": _d(-0.01, 0.1), "layer0_token_mean": _d(0.1, 0.2),
                          "random_weights": _d(0.1, 0.2)}, CONTROLS)
    text = plain_verdict("place", MODEL, surface_wins)
    assert text.startswith("Against the hypothesis: surface form (TF-IDF) (Δ -0.200 [-0.300, -0.100]) beats the probe")
    assert "the probe does not beat layer 0 (last token)" in text
    assert "the probe beats layer 0 (entity token mean), random weights" in text
    open_ = judge({c: _d(-0.01, 0.2) if c == "surface" else _d(0.01, 0.2) for c in CONTROLS}, CONTROLS)
    assert plain_verdict("place", MODEL, open_).startswith("Not established: the probe does not beat surface form")


def test_beyond_block_sentence_follows_the_paired_interval():
    assert "not established" not in beyond_block_sentence("country", _d(0.01, 0.05))
    for straddling_or_below in (_d(-0.01, 0.02), _d(-0.05, -0.01)):
        text = beyond_block_sentence("country", straddling_or_below)
        assert text.startswith("Beyond the country: not established") and "knowing the country" in text
    assert "make a ridge on the state alone worse" in beyond_block_sentence("state", _d(-0.005, -0.001))
    assert "an oracle told each test place's true country (that country's train mean) reaches R² 0.954" in \
        beyond_block_sentence("country", _d(0.01, 0.05), 0.954)

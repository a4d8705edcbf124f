from tests.fixtures.spacetime import MODEL
from worldprobe.spacetime.outputs import BlockChecks, FixedEffects
from worldprobe.spacetime.verdicts import Outcome, block_sentence, judge, plain_verdict
from worldprobe.stats import PairedDifference, Sign

CONTROLS = {"surface": 0.6, "layer0": 0.5, "layer0_token_mean": 0.55, "random_weights": 0.1}


def _d(low: float, high: float) -> PairedDifference:
    return PairedDifference(diff=(low + high) / 2, ci_low=low, ci_high=high)


ADDS_ALL = {c: _d(0.01, 0.05) for c in CONTROLS}


def test_judge_reads_the_paired_interval_of_each_difference():
    verdicts = {v.control: v.outcome for v in
                judge({"surface": _d(-0.2, -0.05), "layer0": _d(-0.02, 0.03), "random_weights": _d(0.3, 0.5)}, CONTROLS)}
    assert verdicts == {"surface": Outcome.BEATEN, "layer0": Outcome.NOT_ESTABLISHED,
                        "layer0_token_mean": Outcome.NOT_MEASURED, "random_weights": Outcome.BEATS}
    missing = judge({"layer0": _d(0.1, 0.2), "random_weights": _d(0.1, 0.2)}, {**CONTROLS, "surface": None})
    assert missing[0].outcome is Outcome.NOT_MEASURED and missing[1].control_r2 == 0.5
    adds = judge({}, CONTROLS, {"surface": _d(0.01, 0.02), "layer0": _d(-0.01, 0.02)})
    assert [v.adds_sign for v in adds] == [Sign.ABOVE, Sign.NOT_ESTABLISHED, None, None]


def test_plain_verdict_claims_a_representation_only_when_the_probe_beats_and_adds_to_every_control():
    all_beaten = judge({c: _d(0.01, 0.2) for c in CONTROLS}, CONTROLS, ADDS_ALL)
    assert plain_verdict("place", MODEL, all_beaten).startswith("The probe beats every control and adds to each")
    beaten_not_added = judge({c: _d(0.01, 0.2) for c in CONTROLS}, CONTROLS, {**ADDS_ALL, "layer0": _d(-0.01, 0.02)})
    text = plain_verdict("place", MODEL, beaten_not_added)
    assert text.startswith("Head to head: the probe beats surface form")
    assert "adds nothing established to layer 0 (last token) (ΔR² +0.005 [-0.010, +0.020])" in text
    assert text.endswith(f"This is no evidence that {MODEL} represents where places are beyond layer 0 (last token).")


def test_a_control_can_beat_the_probe_while_the_probe_adds_to_it():
    surface_wins = judge({"surface": _d(-0.3, -0.1), "layer0": _d(-0.01, 0.1), "layer0_token_mean": _d(0.1, 0.2),
                          "random_weights": _d(0.1, 0.2)}, CONTROLS, ADDS_ALL)
    text = plain_verdict("place", MODEL, surface_wins)
    assert text.startswith("Against the hypothesis head to head: surface form (TF-IDF) (Δ -0.200 [-0.300, -0.100]) "
                           "beats the probe")
    assert "the probe does not beat layer 0 (last token)" in text
    assert "the probe beats layer 0 (entity token mean), random weights" in text
    assert "Beyond each control, the probe adds to surface form (TF-IDF) (ΔR² +0.030 [+0.010, +0.050])" in text
    assert "hold information about where places are that no control holds" in text
    open_ = judge({c: _d(-0.01, 0.2) if c == "surface" else _d(0.01, 0.2) for c in CONTROLS}, CONTROLS)
    text = plain_verdict("time", MODEL, open_)  # no adds measured: no claim beyond any control
    assert text.startswith("Not established head to head: the probe does not beat surface form")
    assert "Beyond each control" not in text and text.endswith("beyond surface form (TF-IDF), layer 0 (last token), "
                                                               "layer 0 (entity token mean), random weights.")


def _block(adds: PairedDifference, beats: PairedDifference = _d(-0.4, -0.3), fixed: PairedDifference = _d(0.001, 0.003),
           **counts) -> BlockChecks:
    fields = {"unseen_test_blocks": 0, "unseen_test_entities": 0, "missing_block_entities": 0} | counts
    return BlockChecks(block="country", n_test_blocks=40, oracle_r2=0.96, beats=beats, adds=adds, block_alone_r2=0.96,
                       beyond_block_share=adds.diff / 0.04, block_read_r2=0.65,
                       fixed_effects=FixedEffects(r2=0.96 + fixed.diff, gain=fixed, share=fixed.diff / 0.04,
                                                  alpha_at_grid_edge=False), **fields)


def test_block_sentence_follows_the_paired_intervals_and_counts_what_the_oracle_cannot_see():
    text = block_sentence(_block(_d(0.0003, 0.0007)))
    assert text.startswith("An oracle told each test place's country (that country's train mean) reaches R² 0.960: "
                           "it beats the probe (Δ -0.350 [-0.400, -0.300]).")
    assert "the probe's prediction adds ΔR² +0.0005 [+0.0003, +0.0007], 1.2% of the variance the country leaves" in text
    assert "Its predictions explain 0.65 of the variance of the test countries' means, so it reads the country only " \
        "in part." in text
    assert text.endswith("A ridge on the activations with the country as an unpenalised term (country fixed effects) "
                         "gains ΔR² +0.0020 [+0.0010, +0.0030] over the country's train means (5.0% of what the "
                         "country leaves unexplained): established.")  # nothing unseen or missing, no one-penalty ridge
    text = block_sentence(_block(_d(-0.0001, 0.0003), fixed=_d(-0.001, 0.002), unseen_test_blocks=13,
                                 unseen_test_entities=14, missing_block_entities=7), one_penalty=_d(0.004, 0.006))
    assert "what the probe's prediction adds is not established (ΔR² +0.0001 [-0.0001, +0.0003])" in text
    assert "fixed effects) gains ΔR² +0.0005 [-0.0010, +0.0020] over the country's train means (1.2% of" in text
    assert "leaves unexplained): not established." in text
    assert "one penalty for both (which shrinks the country term too), gains ΔR² +0.0050 [+0.0040, +0.0060]" in text
    assert text.endswith("13 test countries (14 places) have no train place, so the oracle gives them the overall "
                         "train mean; 7 test places with no country form a country of their own.")

import numpy as np
import pytest

from worldprobe.config import KarelProfile
from worldprobe.karel.sampler import CorpusError, build_split, read_corpus, write_corpus
from worldprobe.karel.semantics import ACTION_WEIGHTS, run


def test_same_seed_same_split_and_splits_differ():
    prof = KarelProfile()
    a, b = build_split(prof, 3, "train", 50), build_split(prof, 3, "train", 50)
    assert np.array_equal(a.texts(), b.texts())
    assert not np.array_equal(a.texts(), build_split(prof, 3, "val", 50).texts())
    assert not np.array_equal(a.texts(), build_split(prof, 4, "train", 50).texts())


def test_lengths_follow_the_split_ranges_and_outputs_are_executions():
    prof = KarelProfile(train_lengths=(2, 3), test_lengths=(5, 7))
    train, test = build_split(prof, 0, "train", 200), build_split(prof, 0, "test", 200)
    assert set(train.lengths) == {2, 3} and set(test.lengths) == {5, 6, 7}
    for i in range(20):
        for w_in, w_out in zip(test.worlds(i, "in"), test.worlds(i, "out")):
            assert run(w_in, test.program(i)) == w_out
    assert test.grids_in.shape[1] == prof.spec_examples + prof.heldout_examples


def test_action_frequencies_match_the_prior():
    split = build_split(KarelProfile(spec_examples=1, heldout_examples=0), 0, "train", 4000)
    actions = split.programs[split.programs >= 0]
    freq = np.bincount(actions, minlength=5) / len(actions)
    expected = np.array(ACTION_WEIGHTS) / sum(ACTION_WEIGHTS)
    assert np.abs(freq - expected).max() < 0.02  # ~14k actions: standard error < 0.005


def test_corpus_round_trip_and_mismatch(tmp_path):
    prof = KarelProfile(n_train=20, n_val=5, n_test=5)
    write_corpus(tmp_path / "c", prof, 0)
    back = read_corpus(tmp_path / "c", "test", prof)
    assert np.array_equal(back.texts(), build_split(prof, 0, "test", 5).texts())
    with pytest.raises(CorpusError, match="grid_size=4"):
        read_corpus(tmp_path / "c", "test", KarelProfile(grid_size=5))
    with pytest.raises(CorpusError, match="run the karel_corpus stage"):
        read_corpus(tmp_path / "missing", "test", prof)

import pytest

from worldprobe.config import ColumnMapping, DatasetConfig
from worldprobe.lm.prompts import MAIN_PREFIXES, PromptError, prompt_spec


@pytest.mark.parametrize(
    ("dataset", "text", "expected"),
    [
        ("world", "France's Lyon", "What are the lat/lon coordinates of France's Lyon"),
        ("us", "Austin", "What are the lat/lon coordinates of Austin"),
        ("nyc", "Central Park", "Where in New York City is Central Park"),
        ("people", "Ada Lovelace", "When did Ada Lovelace"),
        ("art", "Prince's Purple Rain", "When was the release date of Prince's Purple Rain"),
        ("headlines", "Stocks Rise Again", "Publication date of: Stocks Rise Again."),
    ],
)
def test_main_prompts_are_the_papers(dataset, text, expected):
    spec = prompt_spec(dataset, "main")
    assert spec.prefix + spec.entity(text) == expected


def test_headline_period_is_single_and_no_period_drops_it():
    main, bare = prompt_spec("headlines", "main"), prompt_spec("headlines", "no_period")
    assert main.entity("Rates Rise.") == "Rates Rise."  # not "Rates Rise.."
    assert bare.entity("Rates Rise.") == bare.entity("Rates Rise") == "Rates Rise"
    assert bare.prefix == MAIN_PREFIXES["headlines"]


def test_headline_variants_keep_the_period_so_main_minus_empty_is_the_prefix():
    for variant in ("empty", "random", "all_caps"):
        assert prompt_spec("headlines", variant).entity("Rates Rise").upper() == "RATES RISE."
    assert prompt_spec("headlines", "all_caps").entity("Rates Rise") == "RATES RISE."
    assert prompt_spec("headlines", "empty").template == "<bos>{text} + final '.'"


def test_variants():
    assert prompt_spec("world", "no_period") is None  # headlines only: skipped, not an error
    empty, caps, random = (prompt_spec("people", v, random_prefix_tokens=7) for v in ("empty", "all_caps", "random"))
    assert (empty.prefix, empty.entity("Ada Lovelace")) == ("", "Ada Lovelace")
    assert (caps.prefix, caps.entity("Ada Lovelace")) == ("", "ADA LOVELACE")
    assert (random.prefix, random.random_tokens) == ("", 7)
    assert random.template == "<bos><7 random tokens>{text}"
    assert prompt_spec("headlines", "main").template == "<bos>Publication date of: {text} + final '.'"


def test_own_dataset_uses_its_prompt_and_requires_one():
    own = dict(source="file", path="my.csv", kind="place", columns=ColumnMapping(text="name", latitude="lat", longitude="lon"))
    spec = prompt_spec("castles", "main", DatasetConfig(**own, prompt="Where is the castle "))
    assert spec.prefix + spec.entity("Bran") == "Where is the castle Bran"
    with pytest.raises(PromptError, match="data.datasets.castles.prompt"):
        prompt_spec("castles", "main", DatasetConfig(**own))
    with pytest.raises(PromptError, match="valid are"):
        prompt_spec("world", "shouting")

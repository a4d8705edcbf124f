import pytest

from worldprobe.datasets import text


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Fort Amsterdam (Curaçao)", "Curaçao's Fort Amsterdam"),
        ("Landmark Theatre (Syracuse, New York)", "Syracuse, New York's Landmark Theatre"),
        ("Chapel Street, Melbourne", "Melbourne's Chapel Street"),
        ("Dallas, Fort Worth, Texas", "Texas's Dallas, Fort Worth"),
        ("Sembuwatta Lake", "Sembuwatta Lake"),
        ("  Under   (restaurant) ", "restaurant's Under"),
    ],
)
def test_world_names_move_qualifiers_to_the_front(raw, expected):
    assert text.world_name(raw) == expected


def test_world_name_with_an_empty_qualifier_keeps_the_name():
    assert text.world_name("Lonely Rock ()") == "Lonely Rock"
    assert text.world_name("Trailing comma,") == "Trailing comma"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("PS 9 SARAH ANDERSON", "PS 9 Sarah Anderson"),
        ("FDNY ENGINE 209", "FDNY Engine 209"),
        ("CHURCH OF GOD OF PROPHECY", "Church of God of Prophecy"),
        ("THE DOOR", "The Door"),
        ("LITTLE PEOPLE'S ACADEMY DAY CARE", "Little People's Academy Day Care"),
        ("KARMA HOOKAH BAR & LOUNGE", "Karma Hookah Bar & Lounge"),
        ("Already Mixed Case NYC", "Already Mixed Case NYC"),
    ],
)
def test_nyc_all_caps_names_become_title_case_keeping_initialisms(raw, expected):
    assert text.nyc_name(raw) == expected


@pytest.mark.parametrize(
    "creator, title, expected",
    [
        ("Stephen King", "It", "Stephen King's It"),
        ("Dire Straits", "Money for Nothing", "Dire Straits' Money for Nothing"),
        ("Gina G", '"Ooh Aah... Just a Little Bit."', "Gina G's Ooh Aah... Just a Little Bit"),
    ],
)
def test_art_text_is_creators_title(creator, title, expected):
    assert text.art_text(creator, title) == expected


def test_headline_loses_trailing_periods_only():
    assert text.headline_text("U.S. Economy Grew at 3.2% Rate.") == "U.S. Economy Grew at 3.2% Rate"
    assert text.headline_text("What the Fed Does, and Can Do") == "What the Fed Does, and Can Do"


def test_fold_ignores_case_accents_quotes_and_spacing():
    assert text.fold("  Obama’s  To-Do List") == text.fold("OBAMA'S TO-DO LIST")
    assert text.fold("Zürich") == text.fold("zurich")
    assert text.fold("Paris") != text.fold("Parish")

from worldprobe.countries import country_block, country_name


def test_one_name_per_answer_and_one_block_per_country():
    assert country_name("United_Kingdom") == country_name("UK") == "United Kingdom"
    assert country_name("Kent") == "England" and country_name("People's_Republic_of_China") == "China"
    assert country_name(None) is None and country_name(float("nan")) is None
    # a block is the sovereign country: the UK nations and counties are one block, stray spellings folded
    assert {country_block(v) for v in ("England", "Scotland", "Wales", "Northern_Ireland", "United_Kingdom", "UK",
                                       "Kent", "Leicestershire", "Kingdom_of_England")} == {"United Kingdom"}
    assert country_block("Burma") == country_block("Myanmar") == "Myanmar"
    assert country_block("France") == "France" and country_block(None) is None

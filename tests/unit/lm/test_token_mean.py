"""The rule for an entity's own tokens in its prompt (token ids stand for tokens)."""

from worldprobe.lm.token_mean import own_token_span

BOS, WHERE, IS, SPACE, PARIS, FR, LYON, PERIOD, QUOTE, QUOTE_PERIOD = range(1, 11)


def test_own_tokens_follow_what_the_prompt_shares_with_the_prefix_alone():
    head = [BOS, WHERE, IS]
    assert own_token_span([BOS, WHERE, IS, FR, LYON], head) == slice(3, 5)
    # "is " alone ends in a lone "▁" that "is Paris" does not have: the entity starts where they part
    assert own_token_span([BOS, WHERE, IS, PARIS], [*head, SPACE]) == slice(3, 4)
    # a lone "▁" the prompt does share (a word split after it) belongs to the prefix
    assert own_token_span([BOS, WHERE, IS, SPACE, LYON], [*head, SPACE]) == slice(4, 5)
    # at least one token: the last, where the prefix alone covers all of the prompt
    assert own_token_span([BOS, WHERE, IS], head) == slice(2, 3)


def test_the_template_period_is_not_the_entity_but_one_token_always_remains():
    head = [BOS, WHERE]
    assert own_token_span([BOS, WHERE, FR, LYON, PERIOD], head, bare=[BOS, WHERE, FR, LYON]) == slice(2, 4)
    # the period merged into the entity's last token ("’."): that token goes too
    assert own_token_span([BOS, WHERE, FR, QUOTE_PERIOD], head, bare=[BOS, WHERE, FR, QUOTE]) == slice(2, 3)
    # ... unless nothing else would remain
    assert own_token_span([BOS, WHERE, QUOTE_PERIOD], head, bare=[BOS, WHERE, QUOTE]) == slice(2, 3)
    assert own_token_span([BOS, WHERE, PERIOD], head, bare=[BOS, WHERE]) == slice(2, 3)

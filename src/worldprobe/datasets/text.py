"""Entity strings as the model sees them, normalised as in Gurnee & Tegmark's code.

Each function takes one raw name and returns the string fed to the model (prompt prefixes are added
later, by the prompt module). :func:`fold` is not shown to the model: it is the comparison key used
to find duplicates.
"""

from __future__ import annotations

import re
import unicodedata

_PARENTHESES = re.compile(r"\((.*?)\)")
# Lower-cased inside an ALL-CAPS NYC name, as in the paper's code.
_NYC_STOP_WORDS = frozenset({"AND", "OR", "OF", "THE", "A", "AT", "&", "IN", "TO"})
# Kept upper-case: the paper's list, plus school and agency initialisms frequent in the NYC data.
NYC_ABBREVIATIONS = frozenset(
    {"FDNY", "NYCT", "YMCA", "LGA", "US", "NYC", "PS", "IS", "NYS", "UN", "NY", "EMS", "JCC", "NYU", "CC",
     "NYPD", "NYPA", "DHS"}
    | {"JHS", "HS", "MS", "JFK", "FDR", "LIRR", "DSNY", "BQE", "CUNY", "MTA", "NYCHA", "YWCA", "II", "III"}
)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def squash(text: str) -> str:
    """Collapse runs of whitespace and strip the ends."""
    return " ".join(text.split())


def fold(text: str) -> str:
    """Comparison key for duplicates: accents dropped, curly quotes straightened, casefolded, squashed."""
    if text.isascii():  # the common case, and much faster
        return squash(text.casefold())
    decomposed = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return squash(bare.casefold())


def world_name(name: str) -> str:
    """``"X (Y)"`` -> ``"Y's X"``, else ``"A, B"`` -> ``"B's A"`` (the paper's world normalisation).

    Only the first parenthesised qualifier moves to the front; all parenthesised text is removed from
    the rest, and a comma is only considered when there are no parentheses (as in the paper's code).
    """
    match = _PARENTHESES.search(name)
    if match:
        rest = squash(_PARENTHESES.sub("", name))
        qualifier = squash(match.group(1))
        return f"{qualifier}'s {rest}" if qualifier and rest else rest or qualifier
    if "," in name:
        *head, last = name.split(",")
        last, head_text = squash(last), squash(",".join(head))
        return f"{last}'s {head_text}" if last and head_text else head_text or last
    return squash(name)


def nyc_name(name: str) -> str:
    """ALL-CAPS NYC point-of-interest names to title case, keeping initialisms (``PS 9 Sarah Anderson``).

    Stop words are lower-cased as in the paper, except a leading one (the paper's code gives
    ``"the Door"``; we write ``"The Door"``). Names already in mixed case are only squashed.
    """
    name = squash(name)
    if name != name.upper():
        return name
    words = []
    for i, word in enumerate(name.split(" ")):
        if word in NYC_ABBREVIATIONS:
            words.append(word)
        elif word in _NYC_STOP_WORDS and i > 0:
            words.append(word.lower())
        else:
            words.append(word.capitalize())
    return " ".join(words)


def art_title(title: str) -> str:
    """The paper's ``sanitize_title``: surrounding double quotes and trailing full stops removed."""
    title = title.strip()
    if title.startswith('"'):
        title = title[1:]
    if title.endswith('"'):
        title = title[:-1]
    return squash(title.strip().rstrip(".").strip())


def art_text(creator: str, title: str) -> str:
    """``"{creator}'s {title}"``, with ``"'"`` alone after a creator ending in *s* (the paper's rule)."""
    creator = squash(creator)
    apostrophe = "'" if creator.endswith("s") else "'s"
    return f"{creator}{apostrophe} {art_title(title)}"


def headline_text(headline: str) -> str:
    """The headline without trailing full stops; the prompt module adds one back for the main prompt."""
    return squash(headline).rstrip(".").rstrip()

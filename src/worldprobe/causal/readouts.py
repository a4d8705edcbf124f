"""What the causal test reads from the model's answer: an expected place from a softmax over candidate
countries, or the year of a greedy answer (see :mod:`worldprobe.causal.intervention`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..lm.readout import FewShotReadout, ResidualEdit, parse_year

# Few-shot prompts: famous examples outside every dataset's test split is not guaranteed, but they are
# answered in the prompt itself, so they teach the format, not the answer.
COUNTRY_PREFIX = (
    "Q: In which country is the Eiffel Tower?\nA: France\n\n"
    "Q: In which country is Lake Titicaca?\nA: Peru\n\n"
    "Q: In which country is Osaka?\nA: Japan\n\n"
)
COUNTRY_QUESTION = "Q: In which country is {entity}?\nA:"
BIRTH_PREFIX = (
    "Albert Einstein was born in the year 1879\n"
    "Julius Caesar was born in the year 100 BC\n"
    "Frida Kahlo was born in the year 1907\n"
)
BIRTH_QUESTION = "{entity} was born in the year"
# Country labels of the world table that name the same answer; the first spelling is kept.
COUNTRY_ALIASES = {
    "United_States_of_America": "United_States",
    "People's_Republic_of_China": "China",
    "Republic_of_Ireland": "Ireland",
}




@dataclass(frozen=True)
class CountryReadout:
    """Expected latitude/longitude from the model's distribution over candidate countries."""

    readout: FewShotReadout
    names: list[str]  # candidate answers as the model should write them
    latitude: np.ndarray  # train-split centroid of each candidate
    longitude: np.ndarray

    targets = ("latitude", "longitude")

    @classmethod
    def from_table(cls, readout: FewShotReadout, train: pd.DataFrame, n_candidates: int) -> CountryReadout:
        """The ``n_candidates`` most frequent train-split countries and their centroids (circular in longitude)."""
        country = train["country"].replace(COUNTRY_ALIASES)
        top = country.value_counts().index[:n_candidates]
        lat, lon = [], []
        for c in top:
            rows = train[country == c]
            lat.append(rows["latitude"].mean())
            lon.append(circular_mean_deg(rows["longitude"].to_numpy(), np.ones(len(rows))))
        return cls(readout, [c.replace("_", " ") for c in top], np.array(lat), np.array(lon))

    def probabilities(self, entities: Sequence[str], edit: ResidualEdit | None = None) -> np.ndarray:
        scores = self.readout.score_candidates(entities, self.names, normalize="distinct", edit=edit)
        return np.exp(scores - np.logaddexp.reduce(scores, axis=1, keepdims=True))

    def read(self, entities: Sequence[str], edit: ResidualEdit | None = None) -> dict[str, np.ndarray]:
        p = self.probabilities(entities, edit)
        return {"latitude": p @ self.latitude, "longitude": circular_mean_deg(self.longitude, p)}


@dataclass(frozen=True)
class YearReadout:
    """The year in the model's greedy answer (NaN where none can be parsed)."""

    readout: FewShotReadout
    max_new_tokens: int = 6

    targets = ("year",)

    def read(self, entities: Sequence[str], edit: ResidualEdit | None = None) -> dict[str, np.ndarray]:
        texts = self.readout.generate(entities, max_new_tokens=self.max_new_tokens, edit=edit)
        years = [parse_year(t) for t in texts]
        return {"year": np.array([np.nan if y is None else y for y in years])}


def circular_mean_deg(degrees: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted circular mean of longitudes in degrees, in (-180, 180]; ``weights`` ``(n,)`` or ``(rows, n)``."""
    rad = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    return np.rad2deg(np.arctan2(np.asarray(weights) @ np.sin(rad), np.asarray(weights) @ np.cos(rad)))


def wrap_deg(x: np.ndarray) -> np.ndarray:
    """Angle differences into [-180, 180)."""
    return (np.asarray(x) + 180.0) % 360.0 - 180.0

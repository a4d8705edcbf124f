"""What the causal test reads from the model's answer: an expected place from a softmax over candidate
countries, or an expected birth year from a softmax over candidate centuries (see
:mod:`worldprobe.causal.intervention`). Each readout also names its top answer, the entities' true
answers among its candidates, and its error, for the ablation's "does the answer get worse?"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..lm.readout import FewShotReadout, ResidualEdit
from ..spacetime.metrics import great_circle_km

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
BIRTHPLACE_PREFIX = (
    "Q: In which country was Albert Einstein born?\nA: Germany\n\n"
    "Q: In which country was Frida Kahlo born?\nA: Mexico\n\n"
    "Q: In which country was Julius Caesar born?\nA: Italy\n\n"
)
BIRTHPLACE_QUESTION = "Q: In which country was {entity} born?\nA:"
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
    quantities = targets
    error_unit = "km"

    @property
    def name(self) -> str:
        return type(self).__name__

    def usable(self, entities: Sequence[str]) -> np.ndarray:
        return self.readout.usable(entities)

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
        scores = self.readout.score_candidates(entities, self.names, normalize="distinct", relative=True, edit=edit)
        return np.exp(scores - np.logaddexp.reduce(scores, axis=1, keepdims=True))

    def read(self, entities: Sequence[str], edit: ResidualEdit | None = None) -> dict[str, np.ndarray]:
        """The expected place, and the top candidate's index (``top``)."""
        p = self.probabilities(entities, edit)
        return {"latitude": p @ self.latitude, "longitude": circular_mean_deg(self.longitude, p), "top": p.argmax(1)}

    def truth(self, table: pd.DataFrame) -> np.ndarray:
        """Each entity's candidate index, -1 where its country is not a candidate."""
        index = {name: i for i, name in enumerate(self.names)}
        names = table["country"].replace(COUNTRY_ALIASES).str.replace("_", " ")
        return np.array([index.get(n, -1) for n in names])

    def error(self, readings: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
        """Great-circle distance (km) from the expected place to the entity's own."""
        return great_circle_km(table[["longitude", "latitude"]].to_numpy(float),
                               readings[["longitude", "latitude"]].to_numpy(float))

    def baseline(self, readings: pd.DataFrame, table: pd.DataFrame) -> dict[str, float]:
        truth = self.truth(table)
        lon_err = np.abs(wrap_deg(readings["longitude"].to_numpy() - table["longitude"].to_numpy()))
        return {"top1_country_correct": float((readings["top"].to_numpy() == truth).mean()),
                "truth_in_candidates": float((truth >= 0).mean()),
                "latitude_r": float(np.corrcoef(readings["latitude"], table["latitude"])[0, 1]),
                "longitude_median_abs_error": float(np.median(lon_err)),
                "error_km_median": float(np.median(self.error(readings, table)))}


@dataclass(frozen=True)
class CenturyReadout:
    """Expected birth year from the model's distribution over the centuries its answer can start with.

    The answer to "X was born in the year" is scored as " " + the century's two digits (" 18" for the
    1800s; Gemma and SmolLM write one token per digit), so the readout is the model's probability of
    each century among ``first``..``last``: graded, unlike a greedy answer, which moves only when an
    edit flips its argmax. The expected year takes each century's middle.
    """

    readout: FewShotReadout
    first: int = 10  # centuries as their leading digits: 10 = the years 1000-1099
    last: int = 20

    targets = ("year",)
    quantities = targets
    error_unit = "years"

    @property
    def name(self) -> str:
        return type(self).__name__

    def usable(self, entities: Sequence[str]) -> np.ndarray:
        return self.readout.usable(entities)

    @property
    def centuries(self) -> np.ndarray:
        return np.arange(self.first, self.last + 1)

    def probabilities(self, entities: Sequence[str], edit: ResidualEdit | None = None) -> np.ndarray:
        names = [str(c) for c in self.centuries]
        scores = self.readout.score_candidates(entities, names, normalize="distinct", relative=True, edit=edit)
        return np.exp(scores - np.logaddexp.reduce(scores, axis=1, keepdims=True))

    def read(self, entities: Sequence[str], edit: ResidualEdit | None = None) -> dict[str, np.ndarray]:
        p = self.probabilities(entities, edit)
        return {"year": p @ (self.centuries * 100.0 + 50.0), "top": p.argmax(1)}

    def truth(self, table: pd.DataFrame) -> np.ndarray:
        """Each entity's century index, -1 outside the readout's centuries."""
        index = np.floor(table["year"].to_numpy() / 100).astype(int) - self.first
        return np.where((index >= 0) & (index < len(self.centuries)), index, -1)

    def error(self, readings: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
        return np.abs(readings["year"].to_numpy() - table["year"].to_numpy())

    def baseline(self, readings: pd.DataFrame, table: pd.DataFrame) -> dict[str, float]:
        truth = self.truth(table)
        return {"top1_century_correct": float((readings["top"].to_numpy() == truth).mean()),
                "truth_in_range": float((truth >= 0).mean()),
                "year_r": float(np.corrcoef(readings["year"], table["year"])[0, 1]),
                "year_median_abs_error": float(np.median(self.error(readings, table)))}


@dataclass(frozen=True)
class WithSideReadout:
    """A readout of the edited target plus one of other quantities, read from every edited prompt too, so an
    edit's effect on what it should not move is measured beside its effect on what it should (people: the
    birth year, and the birth country's expected place). Truth, error and baseline are the main readout's."""

    main: CenturyReadout | CountryReadout
    side: CenturyReadout | CountryReadout

    @property
    def targets(self) -> tuple[str, ...]:
        return self.main.targets

    @property
    def quantities(self) -> tuple[str, ...]:
        return (*self.main.targets, *self.side.targets)

    @property
    def readout(self) -> FewShotReadout:
        return self.main.readout

    @property
    def name(self) -> str:
        return self.main.name

    def usable(self, entities: Sequence[str]) -> np.ndarray:
        return self.main.readout.usable(entities) & self.side.readout.usable(entities)

    def read(self, entities: Sequence[str], edit: ResidualEdit | None = None) -> dict[str, np.ndarray]:
        side = self.side.read(entities, edit)
        return {**self.main.read(entities, edit), **{q: side[q] for q in self.side.targets}}

    def truth(self, table: pd.DataFrame) -> np.ndarray:
        return self.main.truth(table)

    def error(self, readings: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
        return self.main.error(readings, table)

    def baseline(self, readings: pd.DataFrame, table: pd.DataFrame) -> dict[str, float]:
        return self.main.baseline(readings, table)


def circular_mean_deg(degrees: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted circular mean of longitudes in degrees, in (-180, 180]; ``weights`` ``(n,)`` or ``(rows, n)``."""
    rad = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    return np.rad2deg(np.arctan2(np.asarray(weights) @ np.sin(rad), np.asarray(weights) @ np.cos(rad)))


def wrap_deg(x: np.ndarray) -> np.ndarray:
    """Angle differences into [-180, 180)."""
    return (np.asarray(x) + 180.0) % 360.0 - 180.0

"""Wikidata (WDQS): notable people with birth and death dates (``people``) and US colleges (``us``).

Labels come from ``rdfs:label`` rather than WDQS's ``wikibase:label`` service, so the same queries run
on any SPARQL 1.1 store (the tests use a local Oxigraph). Where Wikidata holds several values (two
occupations, two citizenships) MIN picks one deterministically; the row stays one per entity.
"""

from __future__ import annotations

import re

import pandas as pd

from ..config import LiveConfig
from .http import SourceError
from .pageviews import total_views
from .snapshot import LIVE_COLUMNS, raw_table
from .sparql import SparqlEndpoint

PREFIXES = """PREFIX wd: <http://www.wikidata.org/entity/>
PREFIX wdt: <http://www.wikidata.org/prop/direct/>
PREFIX wikibase: <http://wikiba.se/ontology#>
PREFIX schema: <http://schema.org/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>"""

# humans (Q5) with birth (P569) and death (P570) dates; occupation P106, citizenship P27, sex P21,
# place of birth P19; the English Wikipedia title for page views
PEOPLE_QUERY = """SELECT ?person ?sitelinks (MIN(?label) AS ?name) (MIN(?b) AS ?birth) (MIN(?d) AS ?death)
  (MIN(?occ) AS ?occupation) (MIN(?cit) AS ?country) (MIN(?sex) AS ?gender) (MIN(?bpl) AS ?birthplace)
  (MIN(?t) AS ?title)
WHERE {{
  ?person wdt:P31 wd:Q5 ; wdt:P569 ?b ; wdt:P570 ?d ; wikibase:sitelinks ?sitelinks ; rdfs:label ?label .
  FILTER(LANG(?label) = "en" && ?sitelinks >= {min_sitelinks})
  OPTIONAL {{ ?person wdt:P106/rdfs:label ?occ FILTER(LANG(?occ) = "en") }}
  OPTIONAL {{ ?person wdt:P27/rdfs:label ?cit FILTER(LANG(?cit) = "en") }}
  OPTIONAL {{ ?person wdt:P21/rdfs:label ?sex FILTER(LANG(?sex) = "en") }}
  OPTIONAL {{ ?person wdt:P19/rdfs:label ?bpl FILTER(LANG(?bpl) = "en") }}
  OPTIONAL {{ ?article schema:about ?person ; schema:isPartOf <https://en.wikipedia.org/> ; schema:name ?t }}
}}
GROUP BY ?person ?sitelinks
ORDER BY ?person"""

# instances of (a subclass of) higher education institution (Q38723) in the US (Q30) with
# coordinates (P625) and an English Wikipedia article; the state: a US state (Q35657) the college
# lies in (P131, transitively), its ISO 3166-2 code (P300) gives the two-letter state_id
COLLEGE_QUERY = """SELECT ?college (MIN(?label) AS ?name) (MIN(?co) AS ?coord) (MIN(?iso) AS ?state_code)
  (MIN(?sn) AS ?state_name)
WHERE {
  ?college wdt:P31/wdt:P279* wd:Q38723 ; wdt:P17 wd:Q30 ; wdt:P625 ?co ; rdfs:label ?label .
  ?article schema:about ?college ; schema:isPartOf <https://en.wikipedia.org/> .
  FILTER(LANG(?label) = "en")
  OPTIONAL {
    ?college wdt:P131+ ?state . ?state wdt:P31 wd:Q35657 ; wdt:P300 ?iso ; rdfs:label ?sn .
    FILTER(LANG(?sn) = "en")
  }
}
GROUP BY ?college
ORDER BY ?college"""

_YEAR = re.compile(r"^([+-]?)0*(\d+)-")
_POINT = re.compile(r"^\s*Point\(\s*(\S+)\s+(\S+)\s*\)\s*$", re.I)


def year_of(value: str | None) -> str | None:
    """``1809-02-12T00:00:00Z`` -> ``1809``, ``-0384-01-01T00:00:00Z`` -> ``-384``; anything else raw.

    A value that is not a date (Wikidata's "unknown value" is a blank node) is kept as it is for the
    build stage to reject and count.
    """
    if value is None:
        return None
    match = _YEAR.match(value)
    return f"{'-' if match[1] == '-' else ''}{match[2]}" if match else value


def point(wkt: str | None) -> tuple[str | None, str | None]:
    """``Point(lon lat)`` (WKT, longitude first) -> ``(lat, lon)``; ``(None, None)`` if not a point."""
    match = _POINT.match(wkt or "")
    return (match[2], match[1]) if match else (None, None)


def _endpoint(live: LiveConfig) -> SparqlEndpoint:
    return SparqlEndpoint(live.wikidata_endpoint, live, cache_name="wikidata")


def people(live: LiveConfig) -> pd.DataFrame:
    """The ``people`` raw table (Pantheon's columns as far as Wikidata fills them, plus ``deathyear``).

    ``numlangs`` is the sitelink count; ``PageViewsEnglish`` the English Wikipedia views over the
    configured window. Pantheon-only fields (``HPI``, ``L_star``, ``en_curid``, …) stay missing.
    """
    rows = _endpoint(live).select_all(PREFIXES, PEOPLE_QUERY.format(min_sitelinks=live.wikidata_min_sitelinks))
    if not rows:
        raise SourceError(f"{live.wikidata_endpoint} returned no people")
    views = total_views((r["title"] for r in rows if r["title"]), live)
    records = [
        {
            "name": r["name"],
            "numlangs": r["sitelinks"],
            "birthcity": r["birthplace"],
            "countryName": r["country"],
            "birthyear": year_of(r["birth"]),
            "deathyear": year_of(r["death"]),
            "gender": r["gender"],
            "occupation": r["occupation"],
            "PageViewsEnglish": views.get(r["title"]) if r["title"] else None,
        }
        for r in rows
    ]
    return raw_table(records, LIVE_COLUMNS["people"])


def colleges(live: LiveConfig) -> list[dict[str, str | None]]:
    """US colleges as records in the ``us`` raw columns (entity_type ``college``)."""
    records = []
    for r in _endpoint(live).select_all(PREFIXES, COLLEGE_QUERY):
        lat, lon = point(r["coord"])
        code = r["state_code"]
        records.append({
            "name": r["name"],
            "latitude": lat,
            "longitude": lon,
            "state_id": code.removeprefix("US-") if code else None,
            "state_name": r["state_name"],
            "entity_type": "college",
        })
    return records

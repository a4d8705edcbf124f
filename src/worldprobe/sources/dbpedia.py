"""DBpedia: places of the world (``world``) and songs, films and books (``art``), plus page views.

One row per DBpedia resource: the queries GROUP BY the resource and take MIN of a property DBpedia
holds several values for (two populations, two countries), a deterministic choice that keeps pages
counting entities rather than join products.
"""

from __future__ import annotations

import pandas as pd

from ..config import LiveConfig
from .http import SourceError
from .pageviews import total_views
from .snapshot import LIVE_COLUMNS, raw_table
from .sparql import SparqlEndpoint, resource_name

PREFIXES = """PREFIX dbo: <http://dbpedia.org/ontology/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX foaf: <http://xmlns.com/foaf/0.1/>
PREFIX geo: <http://www.w3.org/2003/01/geo/wgs84_pos#>"""

# entity_type (as in the snapshot) -> DBpedia ontology class
PLACE_CLASSES = {"populated_place": "PopulatedPlace", "structure": "ArchitecturalStructure",
                 "natural_place": "NaturalPlace"}

# The most specific ontology class of the place (entity_subtype): a dbo type of the item with no
# narrower dbo type the item also has (DBpedia materialises every superclass as a type).
PLACE_QUERY = """SELECT ?item (MIN(?label) AS ?name) (MIN(?sub) AS ?subtype) (MIN(?c) AS ?country)
  (MIN(?la) AS ?lat) (MIN(?lo) AS ?long) (MIN(?thumb) AS ?thumbnail) (MIN(?a) AS ?area) (MIN(?p) AS ?population)
WHERE {{
  ?item a dbo:{cls} ; rdfs:label ?label ; geo:lat ?la ; geo:long ?lo .
  FILTER(LANG(?label) = "en")
  OPTIONAL {{
    ?item a ?sub .
    FILTER(STRSTARTS(STR(?sub), "http://dbpedia.org/ontology/"))
    FILTER NOT EXISTS {{ ?item a ?narrower . ?narrower rdfs:subClassOf ?sub . FILTER(?narrower != ?sub) }}
  }}
  OPTIONAL {{ ?item dbo:country ?c }}
  OPTIONAL {{ ?item dbo:thumbnail ?thumb }}
  OPTIONAL {{ ?item dbo:areaTotal ?a }}
  OPTIONAL {{ ?item dbo:populationTotal ?p }}
}}
GROUP BY ?item
ORDER BY ?item"""


# entity_type -> (class, creator property path, release-date path, length path)
ART_CLASSES = {
    "song": ("Song", "dbo:musicalArtist|dbo:artist", "dbo:releaseDate", "dbo:runtime"),
    "movie": ("Film", "dbo:director", "dbo:releaseDate", "dbo:runtime"),
    "book": ("Book", "dbo:author", "dbo:releaseDate|dbo:publicationDate", "dbo:numberOfPages"),
}

# foaf:name is the bare title ("It"); rdfs:label carries Wikipedia's disambiguation ("It (novel)")
ART_QUERY = """SELECT ?item (COALESCE(MIN(?fname), MIN(?label)) AS ?title) (MIN(?cname) AS ?creator)
  (MIN(?d) AS ?date) (MIN(?len) AS ?length)
WHERE {{
  ?item a dbo:{cls} ; rdfs:label ?label ; {creator} ?c ; {date} ?d .
  ?c rdfs:label ?cname .
  FILTER(LANG(?label) = "en" && LANG(?cname) = "en")
  OPTIONAL {{ ?item foaf:name ?fname FILTER(LANG(?fname) = "en") }}
  OPTIONAL {{ ?item {length} ?len }}
}}
GROUP BY ?item
ORDER BY ?item"""


def _endpoint(live: LiveConfig) -> SparqlEndpoint:
    return SparqlEndpoint(live.dbpedia_endpoint, live, cache_name="dbpedia")


def query_places(live: LiveConfig) -> list[dict[str, str | None]]:
    """Places with coordinates, one record per resource, in the ``world`` raw columns (no page views)."""
    endpoint = _endpoint(live)
    records = []
    for entity_type, cls in PLACE_CLASSES.items():
        for row in endpoint.select_all(PREFIXES, PLACE_QUERY.format(cls=cls)):
            records.append({
                "name": row["name"],
                "entity_subtype": resource_name(row["subtype"]),
                "country": resource_name(row["country"]),
                "latitude": row["lat"],
                "longitude": row["long"],
                "has_thumbnail": "0" if row["thumbnail"] is None else "1",
                "entity_type": entity_type,
                "total_area": row["area"],
                "population": row["population"],
                "page_name": resource_name(row["item"]),
            })
    return records


def query_art(live: LiveConfig) -> list[dict[str, str | None]]:
    """Songs, films and books with a creator and a release date, in the ``art`` raw columns (no views)."""
    endpoint = _endpoint(live)
    records = []
    for entity_type, (cls, creator, date, length) in ART_CLASSES.items():
        query = ART_QUERY.format(cls=cls, creator=creator, date=date, length=length)
        for row in endpoint.select_all(PREFIXES, query):
            records.append({
                "title": row["title"],
                "creator": row["creator"],
                "release_date": row["date"],
                "length": row["length"],
                "page_name": resource_name(row["item"]),
                "entity_type": entity_type,
            })
    return records


def _add_views(records: list[dict[str, str | None]], live: LiveConfig, dataset: str) -> None:
    if not records:
        raise SourceError(f"{live.dbpedia_endpoint} returned no {dataset} entities")
    views = total_views((r["page_name"] for r in records), live)
    for r in records:
        r["page_views"] = views[r["page_name"]]


def world_places(live: LiveConfig) -> pd.DataFrame:
    records = query_places(live)
    _add_views(records, live, "world")
    for r in records:
        del r["page_name"]  # the world snapshot has no page-title column
    return raw_table(records, LIVE_COLUMNS["world"])


def art(live: LiveConfig) -> pd.DataFrame:
    records = query_art(live)
    _add_views(records, live, "art")
    return raw_table(records, LIVE_COLUMNS["art"])

"""DBpedia and Wikidata queries against a real Oxigraph SPARQL server loaded with tests/fixtures/sources/kb.ttl."""

import pandas as pd
import pytest

from tests.fixtures.sources.servers import VIEWS, FakeApi, Oxigraph
from worldprobe.config import LiveConfig
from worldprobe.sources import dbpedia, us, wikidata
from worldprobe.sources.http import SourceError
from worldprobe.sources.snapshot import read_snapshot
from worldprobe.sources.sparql import SparqlEndpoint


@pytest.fixture(scope="module")
def oxigraph(tmp_path_factory):
    server = Oxigraph(tmp_path_factory.mktemp("oxigraph"))
    yield server
    server.stop()


@pytest.fixture
def api():
    with FakeApi() as server:
        yield server


def live_config(oxigraph, tmp_path, api=None, **overrides) -> LiveConfig:
    settings = dict(
        dbpedia_endpoint=oxigraph.url, wikidata_endpoint=oxigraph.url, max_retries=1, backoff_seconds=0.01,
        requests_per_second=1000, timeout_seconds=10, cache_dir=str(tmp_path / "cache"),
    )
    if api is not None:
        settings["pageviews_url"] = f"{api.url}/pageviews"
    return LiveConfig(**{**settings, **overrides})


@pytest.mark.parametrize("query", [dbpedia.query_places, dbpedia.query_art, wikidata.colleges])
def test_tiny_pages_equal_one_big_page(oxigraph, tmp_path, query):
    paged = query(live_config(oxigraph, tmp_path / "a", page_size=1))
    whole = query(live_config(oxigraph, tmp_path / "b", page_size=10_000))
    assert paged == whole
    assert len(whole) > 2
    # page_size 1 really paged: each page (and the final empty one) is one cached query
    def queries(run):
        return sum(len(p.read_text().splitlines()) for p in (tmp_path / run / "cache").iterdir())
    assert queries("a") > queries("b")


def test_place_columns(oxigraph, tmp_path):
    places = {r["name"]: r for r in dbpedia.query_places(live_config(oxigraph, tmp_path, page_size=3))}
    assert set(places) == {"Paris", "Berlin", "Tokyo", "Lagos", "Springfield", "Reykjavík", "Sri Jayawardenepura Kotte",
                           "Lake Geneva", "Mont Blanc", "Louvre", "Brandenburg Gate"}
    paris = places["Paris"]
    assert (paris["latitude"], paris["longitude"], paris["country"]) == ("48.8567", "2.3508", "France")
    assert (paris["entity_type"], paris["entity_subtype"], paris["has_thumbnail"]) == ("populated_place", "City", "1")
    assert paris["population"] == "2165423"  # MIN of DBpedia's two values
    assert places["Springfield"]["country"] is None and places["Springfield"]["has_thumbnail"] == "0"
    assert places["Springfield"]["entity_subtype"] == "Settlement"
    assert places["Reykjavík"]["page_name"] == "Reykjavík"  # percent-encoded IRI decoded
    assert places["Sri Jayawardenepura Kotte"]["country"] == "Sri_Lanka"  # as the snapshot spells it
    assert (places["Lake Geneva"]["entity_type"], places["Lake Geneva"]["entity_subtype"]) == ("natural_place", "Lake")
    assert (places["Louvre"]["entity_type"], places["Louvre"]["entity_subtype"]) == ("structure", "Museum")


def test_art_columns(oxigraph, tmp_path):
    works = {r["page_name"]: r for r in dbpedia.query_art(live_config(oxigraph, tmp_path))}
    assert set(works) == {"Bohemian_Rhapsody", "Old_Town_Road", "The_Hobbit_film", "King_Kong_2005", "It_novel",
                          "The_Eyes_of_Darkness"}
    assert works["It_novel"] == {"title": "It", "creator": "Stephen King", "release_date": "1986-09-15",
                                 "length": "1138", "page_name": "It_novel", "entity_type": "book"}
    assert works["King_Kong_2005"]["title"] == "King Kong (2005 film)"  # no foaf:name: the label
    assert works["The_Eyes_of_Darkness"]["release_date"] == "1981-05-10"  # dbo:publicationDate
    assert works["Old_Town_Road"]["creator"] == "Billy Ray Cyrus"  # MIN of two artists
    assert works["The_Hobbit_film"]["entity_type"] == "movie"


def test_world_raw_table_matches_snapshot_columns(oxigraph, api, tmp_path, snapshot_dir):
    table = dbpedia.world_places(live_config(oxigraph, tmp_path, api, page_size=4))
    # the snapshot's columns but the paper's own split, which build then draws itself
    assert list(table.columns) == [c for c in read_snapshot("world", snapshot_dir).columns if c != "is_test"]
    views = dict(zip(table["name"], table["page_views"]))
    assert views["Paris"] == str(sum(VIEWS["Paris"])) and views["Reykjavík"] == "600"


def test_art_raw_table_matches_snapshot_columns(oxigraph, api, tmp_path, snapshot_dir):
    table = dbpedia.art(live_config(oxigraph, tmp_path, api))
    assert list(table.columns) == [c for c in read_snapshot("art", snapshot_dir).columns if c != "is_test"]
    assert table.set_index("page_name").loc["Bohemian_Rhapsody", "page_views"] == "18000"


def test_people_from_wikidata(oxigraph, api, tmp_path, snapshot_dir):
    table = wikidata.people(live_config(oxigraph, tmp_path, api, page_size=2, wikidata_min_sitelinks=20))
    assert list(table.columns) == [*read_snapshot("people", snapshot_dir).columns, "deathyear"]  # no is_test there
    people = table.set_index("name")
    assert set(people.index) == {"Abraham Lincoln", "Aristotle", "Simone de Beauvoir"}
    lincoln = people.loc["Abraham Lincoln"]
    assert (lincoln["birthyear"], lincoln["deathyear"], lincoln["numlangs"]) == ("1809", "1865", "250")
    assert (lincoln["occupation"], lincoln["countryName"], lincoln["gender"]) == ("lawyer", "United States of America", "male")
    assert (lincoln["birthcity"], lincoln["PageViewsEnglish"]) == ("Hodgenville", "120000")
    assert (people.loc["Aristotle", "birthyear"], people.loc["Aristotle", "deathyear"]) == ("-384", "-322")
    assert pd.isna(people.loc["Simone de Beauvoir", "PageViewsEnglish"])  # no English article
    assert api.count("/pageviews/") == 2


def test_us_merges_simplemaps_csvs_and_wikidata_colleges(oxigraph, api, tmp_path, snapshot_dir):
    urls = [f"{api.url}/us/{name}" for name in ("uscities.csv", "uszips.csv", "uscounties.csv")]
    table = us.us_places(live_config(oxigraph, tmp_path, us_places_url=urls))
    assert list(table.columns) == [c for c in read_snapshot("us", snapshot_dir).columns if c != "is_test"]
    assert table["entity_type"].value_counts().to_dict() == {"city": 2, "college": 3, "zip": 1, "county": 1}
    rows = table.set_index("name")
    assert rows.loc["01001", "entity_type"] == "zip"  # leading zero kept
    assert rows.loc["Cook County", "county_fips"] == "17031"
    assert pd.isna(rows.loc["Wichita", "population"])
    harvard = rows.loc["Harvard University"]
    assert (harvard["latitude"], harvard["longitude"], harvard["state_id"], harvard["state_name"]) == (
        "42.3744", "-71.1167", "MA", "Massachusetts")
    assert pd.isna(rows.loc["Placeless College", "state_id"])


def test_us_without_csv_url_says_what_to_set(oxigraph, tmp_path):
    with pytest.raises(SourceError, match="live.us_places_url"):
        us.us_places(live_config(oxigraph, tmp_path))


def test_us_csv_of_the_wrong_shape(oxigraph, api, tmp_path):
    cfg = live_config(oxigraph, tmp_path, us_places_url=f"{api.url}/nyt/2020/1.json")
    with pytest.raises(SourceError):
        us.us_places(cfg)


def test_cached_pages_answer_when_the_endpoint_is_gone(tmp_path):
    server = Oxigraph(tmp_path)
    cfg = live_config(server, tmp_path, page_size=3)
    try:
        first = dbpedia.query_places(cfg)
    finally:
        server.stop()
    assert dbpedia.query_places(cfg) == first
    with pytest.raises(SourceError, match=rf"{server.url} unreachable after 2 attempts"):
        dbpedia.query_places(cfg.model_copy(update={"page_size": 5}))


def test_pagination_needs_order_by(oxigraph, tmp_path):
    with pytest.raises(ValueError, match="ORDER BY"):
        SparqlEndpoint(oxigraph.url, live_config(oxigraph, tmp_path)).select_all("", "SELECT ?s WHERE { ?s ?p ?o }")


def test_sparql_syntax_error_is_a_source_error(oxigraph, tmp_path):
    endpoint = SparqlEndpoint(oxigraph.url, live_config(oxigraph, tmp_path))
    with pytest.raises(SourceError, match="400"):
        endpoint.select("SELEC nonsense")

"""Page views, NYT Archive and Socrata clients against a real loopback HTTP server that can fail."""

import logging
import time
import traceback

import pytest

from tests.fixtures.sources.servers import NYT_KEY, SOCRATA_CAP, SOCRATA_ROWS, VIEWS, FakeApi
from worldprobe.config import LiveConfig
from worldprobe.sources import nyc, nyt
from worldprobe.sources.http import JsonlCache, SourceError
from worldprobe.sources.pageviews import total_views
from worldprobe.sources.snapshot import read_snapshot


@pytest.fixture
def api():
    with FakeApi() as server:
        yield server


def live_config(api: FakeApi, tmp_path, **overrides) -> LiveConfig:
    settings = dict(
        pageviews_url=f"{api.url}/pageviews", nyt_archive_url=f"{api.url}/nyt", nyc_poi_url=f"{api.url}/socrata.json",
        nyt_months=("2019-11", "2020-02"), nyt_seconds_per_request=0, max_retries=3, backoff_seconds=0.01,
        requests_per_second=1000, workers=4, timeout_seconds=5, cache_dir=str(tmp_path / "cache"),
    )
    return LiveConfig(**{**settings, **overrides})


TITLES = ["Paris", "Berlin", "Louvre", "Aristotle", "Tokyo", "Lagos"]


def test_pageviews_sum_the_window_and_404_is_missing(api, tmp_path):
    views = total_views([*TITLES, "No_Such_Page"], live_config(api, tmp_path))
    assert views == {**{t: sum(VIEWS[t]) for t in TITLES}, "No_Such_Page": None}


def test_pageview_request_has_user_agent_and_path(api, tmp_path):
    captured = {}
    original = api._handle

    def spy(h):
        captured["ua"] = h.headers["User-Agent"]
        captured["path"] = h.path
        original(h)

    api._handle = spy
    total_views(["Reykjavík"], live_config(api, tmp_path, user_agent="probe-test/1 (me@example.org)"))
    assert captured["ua"] == "probe-test/1 (me@example.org)"
    assert captured["path"] == "/pageviews/en.wikipedia/all-access/user/Reykjav%C3%ADk/monthly/20180101/20221231"


def test_retries_recover_from_503_and_429(api, tmp_path):
    api.fail("/pageviews/en.wikipedia/all-access/user/Paris/", [503, 429, 503])
    views = total_views(["Paris"], live_config(api, tmp_path, max_retries=3))
    assert views == {"Paris": sum(VIEWS["Paris"])}
    assert api.count("/pageviews/") == 4


def test_retry_after_is_honoured(api, tmp_path):
    api.retry_after = "1"
    api.fail("/pageviews/", [429])
    start = time.monotonic()
    total_views(["Paris"], live_config(api, tmp_path, backoff_seconds=0))
    assert time.monotonic() - start >= 0.9


def test_gives_up_with_endpoint_and_attempts(api, tmp_path):
    api.always_fail["/pageviews/"] = 503
    with pytest.raises(SourceError) as err:
        total_views(["Paris"], live_config(api, tmp_path, max_retries=2, workers=1))
    msg = str(err.value)
    assert f"{api.url}/pageviews/en.wikipedia" in msg and "after 3 attempts" in msg and "503" in msg
    assert "0 of 1 page views are done" in msg
    assert api.count("/pageviews/") == 3


def test_resume_fetches_only_what_is_missing(api, tmp_path):
    # the server keeps failing for one article: the run stops, but what it finished is kept
    api.always_fail["/pageviews/en.wikipedia/all-access/user/Aristotle/"] = 503
    cfg = live_config(api, tmp_path, max_retries=1, workers=1)
    with pytest.raises(SourceError, match="rerun to fetch only the rest"):
        total_views(TITLES, cfg)
    cached = len(JsonlCache(tmp_path / "cache" / "pageviews_en.wikipedia_user_20180101_20221231.jsonl"))
    assert 0 < cached < len(TITLES)

    api.always_fail.clear()
    before = api.count("/pageviews/")
    views = total_views(TITLES, cfg)
    assert api.count("/pageviews/") - before == len(TITLES) - cached
    assert views == {t: sum(VIEWS[t]) for t in TITLES}
    # and a third run is served from the cache alone
    total_views(TITLES, cfg)
    assert api.count("/pageviews/") - before == len(TITLES) - cached


def test_cache_survives_a_torn_last_line(api, tmp_path):
    cfg = live_config(api, tmp_path)
    total_views(["Paris", "Berlin"], cfg)
    path = tmp_path / "cache" / "pageviews_en.wikipedia_user_20180101_20221231.jsonl"
    path.write_bytes(path.read_bytes()[:-7])  # a kill in the middle of writing the last line
    before = api.count("/pageviews/")
    assert total_views(["Paris", "Berlin"], cfg) == {"Paris": 9000, "Berlin": 3100}
    assert api.count("/pageviews/") - before == 1


def test_unreachable_endpoint_is_named(tmp_path):
    cfg = LiveConfig(pageviews_url="http://127.0.0.1:9/pageviews", max_retries=1, backoff_seconds=0,
                     cache_dir=str(tmp_path))
    with pytest.raises(SourceError, match=r"127\.0\.0\.1:9/pageviews.* unreachable after 2 attempts"):
        total_views(["Paris"], cfg)


# ----------------------------------------------------------------------------- NYT


def test_nyt_needs_a_key(api, tmp_path, monkeypatch):
    monkeypatch.delenv("NYT_API_KEY", raising=False)
    with pytest.raises(SourceError, match="NYT_API_KEY"):
        nyt.headlines(live_config(api, tmp_path))
    assert api.requests == []


def test_nyt_headlines_per_month_and_resume(api, tmp_path, monkeypatch):
    monkeypatch.setenv("NYT_API_KEY", NYT_KEY)
    cfg = live_config(api, tmp_path)
    api.fail("/nyt/2020/1.json", [500])
    table = nyt.headlines(cfg)
    assert list(table.columns) == ["headline", "date"]
    assert len(table) == 4 * 2
    assert table.iloc[0].tolist() == ["Headline 2019-11 #0", "2019-11-01"]
    assert table["date"].str[:7].unique().tolist() == ["2019-11", "2019-12", "2020-01", "2020-02"]
    assert api.count("/nyt/") == 5
    nyt.headlines(cfg)
    assert api.count("/nyt/") == 5


def test_nyt_key_never_leaks(api, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("NYT_API_KEY", NYT_KEY)
    caplog.set_level(logging.DEBUG)
    cfg = live_config(api, tmp_path, max_retries=2)
    nyt.headlines(cfg)  # fills the cache
    api.always_fail["/nyt/2020/3.json"] = 503
    with pytest.raises(SourceError) as err:
        nyt.headlines(live_config(api, tmp_path, max_retries=2, nyt_months=("2020-02", "2020-03")))
    # the traceback a user sees, chained exceptions included
    texts = ["".join(traceback.format_exception(err.value)), caplog.text]
    texts += [p.read_text() for p in (tmp_path / "cache").iterdir()]
    assert "/nyt/2020/3.json" in str(err.value) and "503" in str(err.value)
    assert "Incremented Retry" in caplog.text  # urllib3 did log the retried URLs ...
    for text in texts:
        assert NYT_KEY not in text  # ... but never the key


def test_nyt_wrong_key_error_is_redacted(api, tmp_path, monkeypatch):
    monkeypatch.setenv("NYT_API_KEY", "wrong-key-987654321")
    with pytest.raises(SourceError) as err:
        nyt.headlines(live_config(api, tmp_path))
    assert "401" in str(err.value) and "wrong-key-987654321" not in str(err.value)


# ----------------------------------------------------------------------------- Socrata


def test_socrata_pages_past_a_server_cap(api, tmp_path, snapshot_dir):
    table = nyc.points_of_interest(live_config(api, tmp_path, page_size=SOCRATA_CAP + 2))
    assert list(table.columns) == [c for c in read_snapshot("nyc", snapshot_dir).columns if c != "is_test"]
    assert table["name"].tolist() == [r["name"] for r in SOCRATA_ROWS]
    first = table.iloc[1]
    assert (first["latitude"], first["longitude"]) == ("40.71", "-73.91")
    assert (first["borough"], first["borough_name"]) == ("2", "Bronx")
    assert (first["facility_t"], first["facility_t_name"]) == ("2", "Education Facility")
    assert first["b7_sc"] == "1000"
    # 3 + 3 + 2 rows, then the empty page that ends paging
    assert api.count("/socrata.json") == 4


def test_socrata_non_list_answer_is_an_error(api, tmp_path):
    with pytest.raises(SourceError, match="JSON list"):
        nyc.points_of_interest(live_config(api, tmp_path, nyc_poi_url=f"{api.url}/pageviews/en.wikipedia/all-access/user/Paris/monthly/1/2"))

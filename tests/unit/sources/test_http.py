import json
import threading
import time

import pytest

from worldprobe.sources.http import JsonlCache, RateLimiter, SourceError, fetch_all, redact


@pytest.mark.parametrize("text", [
    "https://api.nytimes.com/svc/archive/v1/2020/1.json?api-key=ABC123xyz",
    "/svc/archive/v1/2020/1.json?page=2&api-key=ABC123xyz&x=1",
    "params {'api-key': 'ABC123xyz'}",
    "url?api_key=ABC123xyz", "url?token=ABC123xyz", "url?api-key%3DABC123xyz",
])
def test_redact_removes_secret_values(text):
    assert "ABC123xyz" not in redact(text)
    assert "REDACTED" in redact(text)


def test_redact_keeps_other_text():
    text = "https://wikimedia.org/api/rest_v1/metrics/pageviews/per-article/en.wikipedia/all-access/user/Key_West/monthly"
    assert redact(text) == text


def test_cache_roundtrip_and_reload(tmp_path):
    cache = JsonlCache(tmp_path / "c" / "x.jsonl")
    cache.put("a", {"rows": [1, 2]})
    cache.put("b", None)
    again = JsonlCache(tmp_path / "c" / "x.jsonl")
    assert len(again) == 2 and again.get("a") == {"rows": [1, 2]} and again.get("b") is None and "z" not in again


def test_cache_skips_torn_last_line_and_continues_on_a_new_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"key": "a", "value": 1}) + "\n" + '{"key": "b", "va')
    cache = JsonlCache(path)
    assert "a" in cache and "b" not in cache
    cache.put("b", 2)
    cache.put("c", 3)
    again = JsonlCache(path)
    assert (again.get("a"), again.get("b"), again.get("c")) == (1, 2, 3)


def test_cache_corrupt_in_the_middle_is_an_error(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('garbage\n{"key": "a", "value": 1}\n')
    with pytest.raises(SourceError, match="line 1"):
        JsonlCache(path)


def test_rate_limiter_spaces_calls_across_threads():
    limiter = RateLimiter(50)  # 20 ms apart
    start = time.monotonic()
    threads = [threading.Thread(target=limiter.wait) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - start >= 5 * 0.02 * 0.9


def test_fetch_all_reraises_a_bug_unchanged(tmp_path):
    def broken(key):
        raise KeyError(key)

    with pytest.raises(KeyError):
        fetch_all(["a"], broken, JsonlCache(tmp_path / "x.jsonl"))


def test_fetch_all_deduplicates_keys(tmp_path):
    calls = []
    result = fetch_all(["a", "b", "a"], lambda k: calls.append(k) or k.upper(), JsonlCache(tmp_path / "x.jsonl"))
    assert result == {"a": "A", "b": "B"} and sorted(calls) == ["a", "b"]

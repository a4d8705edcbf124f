"""Polite, resumable HTTP for the live sources.

One :class:`HttpClient` per endpoint: a descriptive User-Agent, a rate limit shared by all worker
threads, retries with exponential backoff on 429/5xx and broken connections (urllib3 ``Retry``,
which honours ``Retry-After``), and errors that name the endpoint and the attempts made. A
:class:`JsonlCache` records every finished request, one line each, so that a rerun after an
interruption (or a server that kept failing) fetches only what is still missing.

Secrets travel only as query parameters of the request itself; :func:`redact` strips them from
every message we raise and from urllib3's own log lines, which quote the full URL.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.util.retry import Retry

from ..config import LiveConfig

RETRY_STATUSES = (429, 500, 502, 503, 504)
_SECRET = re.compile(r"((?:api[-_]?key|apikey|access[-_]?token|token)(?:=|%3D|'\s*:\s*'))[^&\s'\"]+", re.I)


class SourceError(RuntimeError):
    """A live source failed; the message names the endpoint (secrets redacted) and what was kept."""


def redact(text: str) -> str:
    """``text`` with the value of every ``api-key=``/``token=`` query parameter replaced."""
    return _SECRET.sub(r"\1REDACTED", text)


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


# urllib3 logs each retry with the request URL, query string (and so an API key) included
for _name in ("urllib3.connectionpool", "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(_RedactingFilter())


class RateLimiter:
    """At most ``per_second`` calls of :meth:`wait` return per second, across threads."""

    def __init__(self, per_second: float):
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class HttpClient:
    """GET requests to one endpoint with the project's User-Agent, rate limit and retry policy."""

    def __init__(self, live: LiveConfig, requests_per_second: float | None = None):
        self.live = live
        self.attempts = live.max_retries + 1
        self.limiter = RateLimiter(requests_per_second or live.requests_per_second)
        self._local = threading.local()  # requests.Session is not documented as thread-safe

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            retry = Retry(
                total=self.live.max_retries,
                backoff_factor=self.live.backoff_seconds,
                status_forcelist=RETRY_STATUSES,
                allowed_methods=frozenset({"GET"}),
                respect_retry_after_header=True,
                raise_on_status=True,
            )
            session = requests.Session()
            adapter = HTTPAdapter(max_retries=retry)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = self.live.user_agent
            self._local.session = session
        return session

    def get(
        self, url: str, *, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
        ok_statuses: tuple[int, ...] = (),
    ) -> requests.Response:
        """The response to ``GET url``; statuses in ``ok_statuses`` (e.g. 404) are returned, not raised."""
        self.limiter.wait()
        try:
            response = self._session().get(url, params=params, headers=headers, timeout=self.live.timeout_seconds)
            if response.status_code not in ok_statuses:
                response.raise_for_status()
            return response
        except requests.exceptions.RetryError as exc:
            reason = _last_status(exc)
            raise SourceError(redact(f"{_endpoint(url)} kept failing: {reason} after {self.attempts} attempts")) from None
        except requests.exceptions.ConnectionError as exc:
            raise SourceError(redact(f"{_endpoint(url)} unreachable after {self.attempts} attempts: {exc}")) from None
        except requests.exceptions.RequestException as exc:
            # ``from None``: the chained original would print the unredacted URL in a traceback
            raise SourceError(redact(f"{_endpoint(url)} request failed: {exc}")) from None

    def get_json(self, url: str, **kwargs: Any) -> Any:
        response = self.get(url, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise SourceError(
                redact(f"{_endpoint(url)} answered HTTP {response.status_code} with non-JSON: {response.text[:200]!r}")
            ) from None


def _endpoint(url: str) -> str:
    return url.split("?", 1)[0]


def _last_status(exc: requests.exceptions.RetryError) -> str:
    # RetryError wraps urllib3's MaxRetryError, whose reason reads "too many 503 error responses"
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return str(reason) if reason is not None else "too many error responses"


class JsonlCache:
    """An append-only ``key -> JSON value`` store, one line per finished request.

    Lines are flushed as they are written, so a killed run loses at most the line being written; a
    torn last line is cut off on load (the rerun fetches that key again).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._data: dict[str, Any] = {}
        self._lock = threading.Lock()
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        raw = self.path.read_bytes()
        good_end = 0  # bytes up to the end of the last complete record
        for number, line in enumerate(raw.split(b"\n"), 1):
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    if good_end + len(line) == len(raw):  # torn last line of an interrupted run
                        break
                    raise SourceError(f"cache {self.path} is corrupt at line {number}; delete it to refetch") from None
                self._data[record["key"]] = record["value"]
            good_end = min(good_end + len(line) + 1, len(raw))
        if good_end < len(raw):
            with self.path.open("r+b") as f:
                f.truncate(good_end)

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> Any:
        return self._data[key]

    def put(self, key: str, value: Any) -> None:
        line = json.dumps({"key": key, "value": value}, ensure_ascii=False, allow_nan=False)
        with self._lock:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
            self._data[key] = value


def fetch_all(
    keys: Iterable[str], fetch: Callable[[str], Any], cache: JsonlCache, *, workers: int = 1, what: str = "requests"
) -> dict[str, Any]:
    """``{key: fetch(key)}`` for every key, taking finished ones from ``cache`` and caching new ones.

    On the first failure the remaining requests are cancelled and a :class:`SourceError` says how
    many results are kept in the cache for the rerun to resume from.
    """
    keys = list(dict.fromkeys(keys))
    missing = [k for k in keys if k not in cache]

    def one(key: str) -> None:
        cache.put(key, fetch(key))

    if missing:
        with tqdm(total=len(missing), desc=f"fetching {what}", unit="req", leave=False) as bar:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(one, k) for k in missing]
                for f in futures:
                    f.add_done_callback(lambda _f: bar.update())
                done, pending = wait(futures, return_when=FIRST_EXCEPTION)
                for f in pending:
                    f.cancel()
                failed = next((f.exception() for f in futures if f.done() and not f.cancelled() and f.exception()), None)
        if isinstance(failed, SourceError):
            have = sum(k in cache for k in keys)
            raise SourceError(
                f"{failed}\n  {have} of {len(keys)} {what} are done and kept in {cache.path}; "
                "rerun to fetch only the rest"
            ) from None
        if failed is not None:
            raise failed
    return {k: cache.get(k) for k in keys}

"""Crawl scenario (issue 11): examples/crawl.py against the generated 5,000-page site.

The site (tests/scenarios/site.py) is served by a subprocess over HTTP/1.1 and, in a second
run, over HTTP/2 (hypercorn, TLS from trustme). `Site` says what a correct crawler does, and
the test holds the crawl to it:

- every reachable URL (pages and redirects) is fetched, and exactly once: one result per
  URL, and the server saw one request per URL plus the crawler's retries, nothing else
  (no orphan, no URL the crawler invented, nothing on the other origin);
- every failure is reported with its right exception type (slow pages `ReadTimeout`,
  resets `ReadError` on HTTP/1.1 and `RemoteProtocolError` on HTTP/2, oversized bodies and
  the gzip bomb `ResponseTooLarge`, corrupt gzip `DecodingError`, 404 and 503 as statuses),
  and the flaky pages succeed on their retry;
- the crawl finishes within 3 minutes, and afterwards this process's fds and the engine's
  live counters (httpr._curl.counters()) are back at their baseline.

The pages/s figures print with ``-s`` (make scenarios shows them).
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Callable

import pytest

from httpr._curl import counters
from tests.scenarios.conftest import REPO_ROOT, SiteServer, load_example
from tests.scenarios.site import PAGES, SIZE_CAP_BYTES, STALL_SECONDS, Kind, Site

pytestmark = pytest.mark.scenario

crawl = load_example("crawl")

# The bound, per protocol, on this 2-core machine.
CRAWL_BUDGET_SECONDS = 180.0
# The crawler's settings in the scenario. The phase timeout is far below the site's stall
# (STALL_SECONDS) and far above what a healthy page takes under this load.
TIMEOUT_SECONDS = 1.5
RETRIES = 2
CONCURRENCY = 32
PER_HOST = 8
# libcurl 7.88's CONN_MAX_RETRIES: resends of one transfer on dead reused connections.
LIBCURL_RESENDS = 1
# "Back at baseline" may take a moment: nothing to wait for in this process (the server is
# another one), but the engine finishes closing what the client closed.
SETTLE_SECONDS = 10.0

# The error each kind of page must be reported with, per protocol (None: the page is fine).
RESET_ERROR = {"h1": "ReadError", "h2": "RemoteProtocolError"}
EXPECTED_ERROR: dict[Kind, str | None] = {
    Kind.HTML: None,
    Kind.GZIP_HTML: None,
    Kind.BASE_HTML: None,
    Kind.TEXT: None,
    Kind.FLAKY_RESET: None,
    Kind.FLAKY_UNAVAILABLE: None,
    Kind.SLOW_HEAD: "ReadTimeout",
    Kind.SLOW_BODY: "ReadTimeout",
    Kind.RESET_HEAD: "reset",
    Kind.RESET_BODY: "reset",
    Kind.MISSING: "HTTP 404",
    Kind.UNAVAILABLE: "HTTP 503",
    Kind.TOO_LARGE: "ResponseTooLarge",
    Kind.GZIP_BOMB: "ResponseTooLarge",
    Kind.BAD_GZIP: "DecodingError",
}
# Requests the server must see per URL: 1, or all the attempts of a retried failure.
ATTEMPTS: dict[Kind, int] = {
    Kind.FLAKY_RESET: 2,
    Kind.FLAKY_UNAVAILABLE: 2,
    Kind.RESET_HEAD: RETRIES + 1,
    Kind.RESET_BODY: RETRIES + 1,
    Kind.UNAVAILABLE: RETRIES + 1,
}


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def settle_to(fds: int, live: dict[str, int]) -> tuple[int, dict[str, int]]:
    """Waits (bounded) until fds and live counters are back at the baseline; returns the last
    reading, which the caller asserts on."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        gc.collect()
        now_fds, now_live = fd_count(), counters()
        if (now_fds <= fds and now_live == live) or time.monotonic() > deadline:
            return now_fds, now_live
        time.sleep(0.05)


def expected_hits(site: Site, path: str, proto: str) -> range:
    """How many requests the server may see for `path`: the crawler's attempts, and on
    HTTP/1.1, for a reset mid-status-line, up to LIBCURL_RESENDS more per attempt.

    libcurl resends a GET by itself when a reused connection dies before a complete header
    line (a partial status line is no "header byte" to it). httpr holds that to api.md
    section 13 (tests/faults/test_resend_after_reset.py): at most one resend, and none once
    a response byte arrived, except that bytes within the kernel clock's grain (10 ms) of
    the request cannot be told from the previous response's; the site sends its partial
    head at once, so one resend per attempt may happen."""
    kind = site.kind_of(path)
    attempts = ATTEMPTS.get(kind, 1)  # type: ignore[arg-type]
    if proto == "h1" and kind is Kind.RESET_HEAD:
        return range(attempts, attempts * (1 + LIBCURL_RESENDS) + 1)
    return range(attempts, attempts + 1)


def path_of(url: str, origin: str) -> str:
    assert url.startswith(origin + "/"), url
    return url[len(origin) :]


def expected_error(site: Site, path: str, proto: str) -> str | None:
    kind = site.kind_of(path)
    if kind is None:  # a redirect, or a path the site does not have
        return None if path in site.redirect_map else "HTTP 404"
    error = EXPECTED_ERROR[kind]
    return RESET_ERROR[proto] if error == "reset" else error


@pytest.mark.timeout(CRAWL_BUDGET_SECONDS + 60)
@pytest.mark.parametrize("proto", ["h1", "h2"])
def test_crawl_visits_every_reachable_page_once(
    proto: str, site_server: Callable[..., SiteServer]
) -> None:
    site = Site(pages=PAGES)
    reachable = site.reachable()
    server = site_server(proto, pages=PAGES)
    gc.collect()
    fds_before, live_before = fd_count(), counters()

    config = crawl.CrawlConfig(
        start_url=f"{server.url}/p/0",
        concurrency=CONCURRENCY,
        per_host=PER_HOST,
        timeout=TIMEOUT_SECONDS,
        max_size=SIZE_CAP_BYTES,
        retries=RETRIES,
        max_pages=2 * PAGES,
        ca_cert=server.ca_file,
    )
    started = time.monotonic()
    summary = asyncio.run(crawl.Crawler(config, progress=None).run())
    elapsed = time.monotonic() - started
    stats = server.stats()
    fds_after, live_after = settle_to(fds_before, live_before)

    urls = [path_of(r.url, server.url) for r in summary.results]
    failures = Counter(r.error for r in summary.results if r.error is not None)
    print(
        f"\ncrawl {proto}: {len(urls)} URLs in {elapsed:.1f} s"
        f" ({summary.pages_per_second:.0f} pages/s), {summary.requests} requests,"
        f" {summary.retries} retries, {stats['accepted']} connections;"
        f" failures {dict(sorted(failures.items()))}"
    )

    log = [line for line in server.log().splitlines() if "[INFO]" not in line]
    if log:  # hypercorn's errors, a traceback of the h1 server: shown, not asserted on
        print("site server's log (tail):", *log[-40:], sep="\n")
    # Each failure reported with its right type (and the fine pages fine).
    wrong = [
        (p, r.error, expected_error(site, p, proto), r.message[:120])
        for p, r in zip(urls, summary.results)
        if r.error != expected_error(site, p, proto)
    ]
    assert wrong == [], f"{len(wrong)} results with the wrong outcome: {wrong[:10]}"
    # Every reachable URL once, and nothing else.
    duplicates = [u for u, n in Counter(urls).items() if n > 1]
    assert duplicates == [], f"fetched more than once: {duplicates[:10]}"
    assert set(urls) == reachable, (
        f"missed {sorted(reachable - set(urls))[:10]}, extra {sorted(set(urls) - reachable)[:10]}"
    )
    assert not summary.interrupted
    assert summary.skipped_offsite > 0  # the site links to the other origin: not followed
    assert summary.skipped_limit == 0
    # What the server saw agrees: one request per URL plus the retries, no orphan, nothing
    # invented, nothing on the other origin.
    assert stats["offsite"] == 0
    assert not (set(stats["hits"]) - reachable), sorted(set(stats["hits"]) - reachable)[:10]
    assert not (reachable & site.orphans)
    wrong_hits = {
        p: (n, getattr(site.kind_of(p), "value", "redirect"))
        for p, n in stats["hits"].items()
        if n not in expected_hits(site, p, proto)
    }
    assert wrong_hits == {}, f"requests per URL off: {dict(list(wrong_hits.items())[:10])}"
    assert sum(stats["hits"].values()) >= summary.requests
    version = "HTTP/2" if proto == "h2" else "HTTP/1.1"
    assert stats["versions"] == {version: sum(stats["hits"].values())}
    assert set(summary.versions) == {version}

    assert all(
        r.attempts == ATTEMPTS.get(site.kind_of(p), 1)  # type: ignore[arg-type]
        for p, r in zip(urls, summary.results)
    )
    # Every kind of fault was met (the site is generated: a change there must not empty
    # this test).
    kinds_met = {site.kind_of(p) for p in reachable}
    assert set(EXPECTED_ERROR) <= kinds_met, set(EXPECTED_ERROR) - kinds_met
    assert any(site.kind_of(p) is None for p in reachable)  # redirects too

    # Slow pages gave up at the timeout, not at the stall.
    slow = [r for p, r in zip(urls, summary.results) if r.error == "ReadTimeout"]
    assert slow and max(r.seconds for r in slow) < STALL_SECONDS

    assert elapsed < CRAWL_BUDGET_SECONDS
    assert live_after == live_before, f"live counters {live_before} -> {live_after}"
    assert fds_after <= fds_before, f"fds {fds_before} -> {fds_after}"


# -- the example as a user runs it: Ctrl-C ----------------------------------------------------

# The crawl runs this long before Ctrl-C; it must exit within a second of it.
RUN_BEFORE_INTERRUPT_SECONDS = 3.0
INTERRUPT_BUDGET_SECONDS = 1.0


@pytest.mark.timeout(60)
def test_crawl_example_stops_on_ctrl_c(site_server: Callable[..., SiteServer]) -> None:
    server = site_server("h1", pages=PAGES)
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO_ROOT / "examples" / "crawl.py"),
            f"{server.url}/p/0",
            "--timeout=30",  # the slow pages hold their workers: transfers are in flight
            "--progress-interval=0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO_ROOT,
    )
    try:
        time.sleep(RUN_BEFORE_INTERRUPT_SECONDS)
        assert proc.poll() is None, "the crawl ended before Ctrl-C"
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        stdout, stderr = proc.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    out, err = stdout.decode(), stderr.decode()
    print(f"\ncrawl example: exited {took * 1000:.0f} ms after Ctrl-C\n{out}")
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    assert took < INTERRUPT_BUDGET_SECONDS
    assert "Traceback" not in err, err[-2000:]
    assert "(interrupted)" in out.splitlines()[0]
    assert "stopped with" in out and "pages/s" in out
    assert err.startswith("pages ")  # the progress line, one per interval (not a terminal)

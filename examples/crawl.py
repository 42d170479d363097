"""A polite async crawler on httpr.AsyncClient: one site, every same-origin page once.

    .venv/bin/python examples/crawl.py http://127.0.0.1:8000/
    .venv/bin/python examples/crawl.py https://127.0.0.1:8443/ --ca-cert ca.pem --json

It starts at a URL, fetches each page of the same origin (scheme, host and port) exactly
once, and follows the links it finds in HTML (``<a href>``, read with the standard library's
``html.parser``). Redirects are followed by the crawler itself, not by httpr: the target
goes through the same checks as a link (same origin, not seen yet), so a redirect to a page
already crawled, to another site or round a loop costs nothing.

The knobs and what enforces them:

- ``--concurrency N``: pages in flight at once (``AsyncClient(max_concurrency=N)``, and as
  many worker tasks);
- ``--per-host N``: connections to one host and port (``max_connections_per_host``); the
  other transfers wait for one, and that wait is not counted as a timeout (``pool=None``):
  it is the crawler's own queue;
- ``--timeout S``: each phase of each request (connect, each wait for bytes, write), and
  ``--total-timeout`` (4 x S by default) for the whole of one request, so a page that
  drips one byte at a time cannot hold a worker for ever;
- ``--max-size BYTES``: the decoded size of a page (``max_response_size``): bigger pages
  and decompression bombs fail with ``ResponseTooLarge`` after at most that many bytes;
- ``--retries N``: retries of a page after a connection broken once the request was sent
  (``ReadError``, ``WriteError``, ``RemoteProtocolError``: a reset, a server that went away)
  or a ``503``, with exponential backoff and jitter (``Retry-After`` is honoured up to the
  backoff cap). Connect failures are retried by httpr itself (``retries=`` of the client,
  ``--connect-retries``), before any request byte leaves; timeouts are not retried: a page
  that was slow once is slow again, and would hold a worker for another timeout.

A progress line (pages, pages/s, in flight, queued, retries, errors) goes to stderr, redrawn
in place on a terminal and one line per ``--progress-interval`` otherwise; the summary goes
to stdout at the end (``--json`` for a machine-readable one). Ctrl-C (or SIGTERM) stops the
crawl at once: transfers in flight are cancelled (httpr aborts them), the summary of what
was done is printed, and the exit status is 130.

The crawler is also a library: ``Crawler(CrawlConfig(...)).run()`` returns a
``CrawlSummary`` with one ``PageResult`` per URL fetched (the scenario tests drive it so).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TextIO
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

import httpr

MIB = 1024 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}
HTML_TYPES = ("text/html", "application/xhtml+xml")
# Statuses retried like a broken connection: the server says "not now", not "no".
RETRY_STATUSES = frozenset({503})
# Failures after the request was sent that a second attempt may cure (see the docstring).
RETRY_ERRORS = (httpr.ReadError, httpr.WriteError, httpr.RemoteProtocolError)
# Backoff before retry k (1-based): BACKOFF_BASE * 2**(k-1), at most BACKOFF_MAX, and a
# random half of it (equal jitter), so pages that failed together do not retry together.
BACKOFF_BASE_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 5.0
# A redirect is followed when its status is one of these and it has a Location.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass
class CrawlConfig:
    """What to crawl and how hard; the defaults are polite for a real site."""

    start_url: str
    concurrency: int = 16
    per_host: int = 4
    timeout: float = 10.0
    total_timeout: float | None = None  # None: 4 x timeout
    max_size: int = 5 * MIB
    retries: int = 3
    connect_retries: int = 2
    max_pages: int = 10_000
    ca_cert: str | None = None
    progress_interval: float = 1.0
    user_agent: str = f"httpr-crawl-example/{httpr.__version__}"

    def __post_init__(self) -> None:
        for name in ("concurrency", "per_host", "max_size", "max_pages"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("retries", "connect_retries"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be at least 0, got {getattr(self, name)}")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be positive, got {self.timeout}")
        if self.progress_interval <= 0:
            raise ValueError(f"progress_interval must be positive, got {self.progress_interval}")
        if normalize(self.start_url) is None:
            raise ValueError(f"start_url must be an absolute http(s) URL, got {self.start_url!r}")


@dataclass
class PageResult:
    """One URL, fetched once (with its retries)."""

    url: str
    attempts: int
    status: int | None = None  # the final status; None when no response came
    error: str | None = None  # "ReadTimeout", "HTTP 404"...; None when the page was fine
    message: str = ""
    http_version: str | None = None
    size: int = 0  # decoded body bytes
    links: int = 0  # same-origin links found (new or not)
    redirect_to: str | None = None
    seconds: float = 0.0  # all attempts and backoffs


@dataclass
class CrawlSummary:
    """What a crawl did; `results` has one entry per URL fetched, in completion order."""

    start_url: str
    results: list[PageResult]
    elapsed: float
    interrupted: bool
    requests: int  # attempts made (retries included)
    retries: int
    skipped_offsite: int  # links and redirects to other origins, not followed
    skipped_limit: int  # same-origin URLs not fetched because of max_pages
    in_flight_at_stop: int
    versions: Counter[str] = field(default_factory=Counter)

    @property
    def pages_per_second(self) -> float:
        return len(self.results) / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def failures(self) -> Counter[str]:
        return Counter(r.error for r in self.results if r.error is not None)

    @property
    def redirects(self) -> int:
        return sum(r.redirect_to is not None for r in self.results)

    def format(self) -> str:
        ok = sum(r.error is None for r in self.results) - self.redirects
        failures = ", ".join(f"{kind} {n}" for kind, n in self.failures.most_common()) or "none"
        size = sum(r.size for r in self.results)
        versions = ", ".join(f"{v} {n}" for v, n in sorted(self.versions.items())) or "none"
        lines = [
            f"crawl of {self.start_url}" + (" (interrupted)" if self.interrupted else ""),
            f"  {len(self.results)} URLs in {self.elapsed:.2f} s"
            f" ({self.pages_per_second:.1f} pages/s), {self.requests} requests"
            f" ({self.retries} retries), {size / MIB:.1f} MiB decoded",
            f"  ok {ok}, redirects {self.redirects}, failed {sum(self.failures.values())}:"
            f" {failures}",
            f"  not followed: {self.skipped_offsite} to other origins,"
            f" {self.skipped_limit} over --max-pages; protocols: {versions}",
        ]
        if self.interrupted:
            lines.append(f"  stopped with {self.in_flight_at_stop} requests in flight")
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {
            "start_url": self.start_url,
            "urls": len(self.results),
            "elapsed": round(self.elapsed, 3),
            "pages_per_second": round(self.pages_per_second, 1),
            "requests": self.requests,
            "retries": self.retries,
            "redirects": self.redirects,
            "failures": dict(self.failures),
            "skipped_offsite": self.skipped_offsite,
            "skipped_limit": self.skipped_limit,
            "versions": dict(self.versions),
            "interrupted": self.interrupted,
            "in_flight_at_stop": self.in_flight_at_stop,
        }


def normalize(url: str) -> str | None:
    """`url` without fragment, scheme and host lowercased, default port dropped, empty path
    as ``/``; None when it is not an absolute http(s) URL or does not parse."""
    try:
        parts = urlsplit(urldefrag(url.strip())[0])
        port = parts.port
    except ValueError:  # "http://[::1/x", "http://h:99999/": not a URL anyone can fetch
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def resolve(base: str, href: str) -> str | None:
    """`href` (a link or a Location) resolved against `base` and normalized; None when it
    does not make an http(s) URL."""
    try:
        return normalize(urljoin(base, href.strip()))
    except ValueError:  # urljoin parses href too: "http://[::1/x" raises there
        return None


def origin_of(url: str) -> tuple[str, str]:
    """(scheme, host[:port]) of a URL returned by `normalize`."""
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


class LinkParser(HTMLParser):
    """Collects ``<a href>`` targets, resolved against the page URL or its ``<base href>``
    and normalized; hrefs that make no http(s) URL are dropped."""

    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("a", "base"):
            return
        href = dict(attrs).get("href")
        if href is None:
            return
        target = resolve(self.base, href)
        if target is None:
            return
        if tag == "base":
            self.base = target
        else:
            self.links.append(target)


def extract_links(html: str, base: str) -> list[str]:
    parser = LinkParser(base)
    parser.feed(html)
    parser.close()
    return parser.links


class Crawler:
    """One crawl; `run()` once. `stop()` may be called from a signal handler."""

    def __init__(self, config: CrawlConfig, *, progress: TextIO | None = sys.stderr) -> None:
        self.config = config
        start = normalize(config.start_url)
        assert start is not None  # CrawlConfig checked it
        self.start = start
        self.origin = origin_of(start)
        self.progress = progress
        self.results: list[PageResult] = []
        self.seen: set[str] = set()
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.in_flight = 0
        self.requests = 0
        self.retries = 0
        self.errors = 0
        self.skipped_offsite = 0
        self.skipped_limit = 0
        self.versions: Counter[str] = Counter()
        self._stop = asyncio.Event()
        self._started = 0.0
        self._progress_drawn = False

    def stop(self) -> None:
        """Ends the crawl as soon as possible (Ctrl-C)."""
        self._stop.set()

    async def run(self) -> CrawlSummary:
        c = self.config
        total = c.total_timeout if c.total_timeout is not None else 4 * c.timeout
        client = httpr.AsyncClient(
            headers={"User-Agent": c.user_agent},
            timeout=httpr.Timeout(c.timeout, pool=None, total=total),
            follow_redirects=False,
            ca_cert_file=c.ca_cert,
            retries=c.connect_retries,
            max_response_size=c.max_size,
            max_concurrency=c.concurrency,
            max_connections_per_host=c.per_host,
        )
        self._started = time.monotonic()
        self._enqueue(self.start)
        async with client:
            workers = [asyncio.create_task(self._worker(client)) for _ in range(c.concurrency)]
            waiters = [
                asyncio.create_task(self.queue.join()),
                asyncio.create_task(self._stop.wait()),
            ]
            ticker = asyncio.create_task(self._tick()) if self.progress is not None else None
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                in_flight = self.in_flight
                # Cancelling a worker cancels its request: httpr aborts the transfer at once.
                tasks = [*workers, *waiters, *([ticker] if ticker is not None else [])]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        elapsed = time.monotonic() - self._started
        if self.progress is not None:
            self._draw(final=True)
        return CrawlSummary(
            start_url=self.start,
            results=self.results,
            elapsed=elapsed,
            interrupted=self._stop.is_set(),
            requests=self.requests,
            retries=self.retries,
            skipped_offsite=self.skipped_offsite,
            skipped_limit=self.skipped_limit,
            in_flight_at_stop=in_flight if self._stop.is_set() else 0,
            versions=self.versions,
        )

    # -- the frontier ----------------------------------------------------------------------

    def _enqueue(self, url: str) -> None:
        """Queues a normalized URL unless it is seen, off-site or over the page budget."""
        if origin_of(url) != self.origin:
            self.skipped_offsite += 1
        elif url in self.seen:
            pass
        elif len(self.seen) >= self.config.max_pages:
            self.skipped_limit += 1
        else:
            self.seen.add(url)
            self.queue.put_nowait(url)

    async def _worker(self, client: httpr.AsyncClient) -> None:
        while True:
            url = await self.queue.get()
            try:
                try:
                    result = await self._fetch(client, url)
                except Exception as exc:  # a bug here must not kill the worker (and the crawl)
                    result = PageResult(url, 0, error=f"crawler {type(exc).__name__}")
                    result.message = str(exc)
                self.results.append(result)
                if result.error is not None:
                    self.errors += 1
            finally:
                self.queue.task_done()

    # -- one URL -----------------------------------------------------------------------------

    async def _fetch(self, client: httpr.AsyncClient, url: str) -> PageResult:
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            failure: httpr.HTTPError | None = None
            self.requests += 1
            self.in_flight += 1
            try:
                response = await client.get(url)
            except RETRY_ERRORS as exc:
                failure = exc
                response = None
            except httpr.HTTPError as exc:  # timeouts, size cap, decoding, refused...
                return self._failed(url, attempt, started, exc)
            finally:
                self.in_flight -= 1
            if response is not None and response.status_code not in RETRY_STATUSES:
                return self._page(url, attempt, started, response)
            if attempt > self.config.retries:
                if response is not None:
                    return self._page(url, attempt, started, response)
                assert failure is not None
                return self._failed(url, attempt, started, failure)
            self.retries += 1
            await asyncio.sleep(self._backoff(attempt, response))

    def _backoff(self, attempt: int, response: httpr.Response | None) -> float:
        delay = min(BACKOFF_BASE_SECONDS * 2.0 ** (attempt - 1), BACKOFF_MAX_SECONDS)
        delay = delay / 2 + random.uniform(0, delay / 2)
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after is not None and retry_after.strip().isdigit():
            delay = max(delay, min(float(retry_after), BACKOFF_MAX_SECONDS))
        return delay

    def _failed(self, url: str, attempt: int, started: float, exc: httpr.HTTPError) -> PageResult:
        return PageResult(
            url=url,
            attempts=attempt,
            error=type(exc).__name__,
            message=str(exc),
            seconds=time.monotonic() - started,
        )

    def _page(self, url: str, attempt: int, started: float, response: httpr.Response) -> PageResult:
        self.versions[response.http_version] += 1
        result = PageResult(
            url=url,
            attempts=attempt,
            status=response.status_code,
            http_version=response.http_version,
            size=len(response.content),
            seconds=time.monotonic() - started,
        )
        status = response.status_code
        location = response.headers.get("location")
        if status in REDIRECT_STATUSES and location is not None:
            target = resolve(url, location)
            result.redirect_to = target
            if target is not None:
                self._enqueue(target)
        elif status >= 400:
            result.error = f"HTTP {status}"
        elif 200 <= status < 300 and self._is_html(response):
            for target in extract_links(response.text, response.url):
                result.links += 1
                self._enqueue(target)
        return result

    @staticmethod
    def _is_html(response: httpr.Response) -> bool:
        media = (response.headers.get("content-type") or "").split(";")[0].strip().lower()
        return media in HTML_TYPES

    # -- progress ------------------------------------------------------------------------------

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.config.progress_interval)
            self._draw()

    def _draw(self, final: bool = False) -> None:
        stream = self.progress
        assert stream is not None
        elapsed = max(time.monotonic() - self._started, 1e-9)
        line = (
            f"pages {len(self.results)}  {len(self.results) / elapsed:.1f}/s"
            f"  in flight {self.in_flight}  queued {self.queue.qsize()}"
            f"  retries {self.retries}  errors {self.errors}"
        )
        if stream.isatty():
            stream.write(f"\r\x1b[K{line}" + ("\n" if final else ""))
        elif not final or not self._progress_drawn:
            stream.write(line + "\n")
        self._progress_drawn = True
        stream.flush()


def parse_args(argv: list[str] | None = None) -> tuple[CrawlConfig, argparse.Namespace]:
    """The command line: a CrawlConfig, and the output options (``json``, ``quiet``)."""
    p = argparse.ArgumentParser(description="Crawl one site with httpr.AsyncClient.")
    p.add_argument("url", help="start URL; only pages of its origin are crawled")
    p.add_argument("--concurrency", type=int, default=16, help="pages in flight (16)")
    p.add_argument("--per-host", type=int, default=4, help="connections per host (4)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per phase (10)")
    p.add_argument("--total-timeout", type=float, help="seconds per request (4 x --timeout)")
    p.add_argument("--max-size", type=int, default=5 * MIB, help="bytes per page (5 MiB)")
    p.add_argument("--retries", type=int, default=3, help="retries after a reset or 503 (3)")
    p.add_argument("--connect-retries", type=int, default=2, help="connect retries (2)")
    p.add_argument("--max-pages", type=int, default=10_000, help="URLs to fetch (10000)")
    p.add_argument("--ca-cert", help="PEM CA bundle replacing the default trust store")
    p.add_argument("--progress-interval", type=float, default=1.0, help="seconds (1)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    a = p.parse_args(argv)
    try:
        config = CrawlConfig(
            start_url=a.url,
            concurrency=a.concurrency,
            per_host=a.per_host,
            timeout=a.timeout,
            total_timeout=a.total_timeout,
            max_size=a.max_size,
            retries=a.retries,
            connect_retries=a.connect_retries,
            max_pages=a.max_pages,
            ca_cert=a.ca_cert,
            progress_interval=a.progress_interval,
        )
    except ValueError as e:
        p.error(str(e))
    return config, a


async def crawl_until_interrupted(config: CrawlConfig, progress: TextIO | None) -> CrawlSummary:
    """Runs a crawl; SIGINT (Ctrl-C) and SIGTERM stop it, and the summary is still returned."""
    crawler = Crawler(config, progress=progress)
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, crawler.stop)
    try:
        return await crawler.run()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def main(argv: list[str] | None = None) -> int:
    config, options = parse_args(argv)
    progress = None if options.quiet else sys.stderr
    summary = asyncio.run(crawl_until_interrupted(config, progress))
    print(json.dumps(summary.to_json()) if options.json else summary.format(), flush=True)
    return 130 if summary.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())

"""The generated site the crawl scenario runs against: pages, links, faults, and the answer.

`Site` is a pure model, built the same way from the same numbers in the server process
(tests/scenarios/site_server.py renders and serves it) and in the test (which computes from
it what a correct crawler must do). Nothing here does I/O.

URLs:

- ``/p/<i>`` for ``i`` in ``range(pages)``: the pages. ``/p/0`` is the start page.
- ``/r/<j>`` for ``j`` in ``range(redirects)``: redirects (301, 302, 303, 307, 308) to a page,
  to another redirect (chains, and one loop), or to the other origin.

Each page has a `Kind`. Most are HTML (a third of them gzip-encoded when the client accepts
gzip) with links written in every form a crawler meets: absolute paths, relative paths,
absolute URLs, fragments, upper-case tags, single quotes, entities, ``<base href>``, and
links it must not follow (the other origin, ``mailto:``, ``javascript:``, an unparsable URL,
and links inside a text/plain page). Faults, by share of the pages: 2 % slow (half stall
before the head, half mid-body), 1 % reset (mid-head or mid-body; some only on the first
attempt), a few 404s and 503s (some only on the first attempt), bodies over the size cap
(declared, and a gzip bomb), corrupt gzip. Some pages are orphans (no link or redirect
points at them): a crawler that fetches one invented it.

"The other origin" is the same server under another name (``localhost`` instead of
``127.0.0.1``): a crawler that leaves the origin shows up in the server's counts, and no
request ever leaves the machine.
"""

from __future__ import annotations

import enum
import gzip
import random
from collections import deque
from dataclasses import dataclass, field

# The scenario's figures (issue 11): 5,000 pages, 2 % slow, 1 % resetting, a few 404/503.
PAGES = 5_000
REDIRECTS = 150
SEED = 11
SLOW_SHARE = 0.02
RESET_SHARE = 0.01
# Counts of the rarer kinds.
MISSING = 12
UNAVAILABLE = 6
FLAKY_UNAVAILABLE = 6
TOO_LARGE = 3
GZIP_BOMBS = 2
BAD_GZIP = 2
PLAIN_TEXT = 20
ORPHANS = 25
# Out-links per HTML page to other pages, and the share of pages linking to a redirect.
LINKS_PER_PAGE = 6
REDIRECT_LINK_SHARE = 0.08
# Share of HTML pages served gzip-encoded (to clients that accept it).
GZIP_SHARE = 1 / 3
# Bytes of filler text per HTML page (links come on top).
FILLER_BYTES = 2_000
# The crawler's size cap in the scenario, and what the oversized pages hold (decoded).
SIZE_CAP_BYTES = 1024 * 1024
TOO_LARGE_BYTES = 2 * SIZE_CAP_BYTES
GZIP_BOMB_BYTES = 8 * SIZE_CAP_BYTES
# Slow pages stall this long; the scenario's timeout must be well below it.
STALL_SECONDS = 8.0


class Kind(enum.Enum):
    """How a page answers. `value` is only a label for messages."""

    HTML = "html"
    GZIP_HTML = "gzip-html"
    BASE_HTML = "base-html"  # HTML whose relative links resolve against a <base href>
    TEXT = "text"  # text/plain holding link-like text: nothing to follow
    SLOW_HEAD = "slow-head"  # stalls before the response head
    SLOW_BODY = "slow-body"  # sends the head and part of the body, then stalls
    RESET_HEAD = "reset-head"  # sends part of the status line, then resets (every time)
    RESET_BODY = "reset-body"  # sends the head and part of the body, then resets
    FLAKY_RESET = "flaky-reset"  # resets mid-body on the first request only
    MISSING = "missing"  # 404
    UNAVAILABLE = "unavailable"  # 503 every time
    FLAKY_UNAVAILABLE = "flaky-unavailable"  # 503 on the first request only
    TOO_LARGE = "too-large"  # Content-Length over the cap
    GZIP_BOMB = "gzip-bomb"  # small gzip body that inflates over the cap
    BAD_GZIP = "bad-gzip"  # Content-Encoding: gzip over bytes that are not gzip


# Kinds whose links a crawler follows once it has the page (after retries, if flaky).
FOLLOWED_KINDS = frozenset(
    {Kind.HTML, Kind.GZIP_HTML, Kind.BASE_HTML, Kind.FLAKY_RESET, Kind.FLAKY_UNAVAILABLE}
)
# Kinds that fail on the first request only.
FLAKY_KINDS = frozenset({Kind.FLAKY_RESET, Kind.FLAKY_UNAVAILABLE})


@dataclass(frozen=True)
class Link:
    """One ``<a>`` on a page: how it is written and where it leads (None: nowhere here)."""

    form: str
    target: str | None  # a path on the site, or None for links a crawler must not follow


@dataclass(frozen=True)
class Redirect:
    status: int
    form: str  # how Location is written
    target: str | None  # a path on the site, or None (the other origin)


@dataclass
class Site:
    """The whole site, generated from `seed`."""

    pages: int = PAGES
    redirects: int = REDIRECTS
    seed: int = SEED
    kinds: dict[str, Kind] = field(init=False)
    links: dict[str, list[Link]] = field(init=False)
    redirect_map: dict[str, Redirect] = field(init=False)
    orphans: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        paths = [f"/p/{i}" for i in range(self.pages)]
        self.kinds = {path: Kind.HTML for path in paths}
        others = paths[1:]  # /p/0 is the start page and stays plain HTML
        rng.shuffle(others)
        slow = round(self.pages * SLOW_SHARE)
        reset = round(self.pages * RESET_SHARE)
        plan: list[tuple[Kind, int]] = [
            (Kind.SLOW_HEAD, slow // 2),
            (Kind.SLOW_BODY, slow - slow // 2),
            (Kind.RESET_HEAD, reset * 2 // 5),
            (Kind.RESET_BODY, reset * 2 // 5),
            (Kind.FLAKY_RESET, reset - 2 * (reset * 2 // 5)),
            (Kind.MISSING, MISSING),
            (Kind.UNAVAILABLE, UNAVAILABLE),
            (Kind.FLAKY_UNAVAILABLE, FLAKY_UNAVAILABLE),
            (Kind.TOO_LARGE, TOO_LARGE),
            (Kind.GZIP_BOMB, GZIP_BOMBS),
            (Kind.BAD_GZIP, BAD_GZIP),
            (Kind.TEXT, PLAIN_TEXT),
            (Kind.BASE_HTML, PLAIN_TEXT),
        ]
        cursor = 0
        for kind, count in plan:
            for path in others[cursor : cursor + count]:
                self.kinds[path] = kind
            cursor += count
        self.orphans = frozenset(others[cursor : cursor + ORPHANS])
        cursor += ORPHANS
        for path in others[cursor:]:
            if rng.random() < GZIP_SHARE:
                self.kinds[path] = Kind.GZIP_HTML
        linkable = [p for p in paths if p not in self.orphans]
        redirect_paths = [f"/r/{j}" for j in range(self.redirects)]
        self.redirect_map = self._make_redirects(rng, linkable, redirect_paths)
        self.links = {p: self._make_links(rng, p, linkable, redirect_paths) for p in paths}

    # -- generation --------------------------------------------------------------------------

    def _make_redirects(
        self, rng: random.Random, linkable: list[str], redirect_paths: list[str]
    ) -> dict[str, Redirect]:
        statuses = (301, 302, 303, 307, 308)
        out: dict[str, Redirect] = {}
        for j, path in enumerate(redirect_paths):
            status = statuses[j % len(statuses)]
            roll = rng.random()
            if j in (0, 1):  # /r/0 -> /r/1 -> /r/0: a loop
                out[path] = Redirect(status, "path", redirect_paths[1 - j])
            elif roll < 0.55:
                out[path] = Redirect(status, "path", rng.choice(linkable))
            elif roll < 0.70:
                out[path] = Redirect(status, "absolute", rng.choice(linkable))
            elif roll < 0.80:
                out[path] = Redirect(status, "relative", rng.choice(linkable))
            elif roll < 0.93 and j + 1 < len(redirect_paths):
                out[path] = Redirect(status, "path", redirect_paths[j + 1])  # a chain
            else:
                out[path] = Redirect(status, "offsite", None)
        return out

    def _make_links(
        self, rng: random.Random, path: str, linkable: list[str], redirect_paths: list[str]
    ) -> list[Link]:
        forms = ("path", "path", "path", "relative", "absolute", "fragment", "upper", "quoted")
        links = [Link(rng.choice(forms), rng.choice(linkable)) for _ in range(LINKS_PER_PAGE)]
        if rng.random() < REDIRECT_LINK_SHARE:
            links.append(Link("path", rng.choice(redirect_paths)))
        # "#top" is this page, except under <base href="origin/">: a fragment-only URL
        # resolves against the document's base URL, so there it is "/" (a 404 here).
        links.append(Link("self-fragment", "/" if self.kinds[path] is Kind.BASE_HTML else path))
        roll = rng.random()
        if roll < 0.10:
            links.append(Link("offsite", None))
        elif roll < 0.15:
            links.append(Link("mailto", None))
        elif roll < 0.20:
            links.append(Link("javascript", None))
        elif roll < 0.22:
            links.append(Link("broken", None))
        elif roll < 0.25:
            links.append(Link("entity", rng.choice(linkable)))
        return links

    # -- what a correct crawl does ---------------------------------------------------------------

    def targets(self, path: str) -> list[str]:
        """The site paths a crawler that fetched `path` successfully goes on to."""
        if path in self.redirect_map:
            target = self.redirect_map[path].target
            return [target] if target is not None else []
        if self.kinds.get(path) not in FOLLOWED_KINDS:
            return []
        return [link.target for link in self.links[path] if link.target is not None]

    def reachable(self, start: str = "/p/0") -> set[str]:
        """Every path a correct crawler fetches, starting at `start` (breadth first)."""
        seen = {start}
        todo = deque([start])
        while todo:
            for target in self.targets(todo.popleft()):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    def kind_of(self, path: str) -> Kind | None:
        """The page kind, or None for a redirect (or a path the site does not have)."""
        return self.kinds.get(path)

    # -- rendering (the server's side) ---------------------------------------------------------

    def href(self, page: str, link: Link, origin: str, offsite: str) -> str:
        """How `link` is written on `page`, for a server at `origin`."""
        target = link.target or ""
        number = target.rsplit("/", 1)[-1]
        form = link.form
        if form in ("path", "upper", "quoted"):
            return target
        if form == "relative":
            if self.kinds.get(page) is Kind.BASE_HTML:  # against <base href="origin/">
                return target.lstrip("/")
            return f"../{target.lstrip('/')}"  # from /p/i: ../p/k
        if form == "absolute":
            return f"{origin}{target}"
        if form == "fragment":
            return f"{target}#section-{number}"
        if form == "self-fragment":
            return "#top"
        if form == "entity":  # &#47; is "/": the parser must decode it
            return target.replace("/", "&#47;")
        if form == "offsite":
            return f"{offsite}/p/1"
        if form == "mailto":
            return "mailto:webmaster@example.invalid"
        if form == "javascript":
            return "javascript:void(0)"
        if form == "broken":
            return "http://[::1/not-a-url"
        raise AssertionError(f"unknown link form {form!r}")  # Defensive: generation bug

    def html(self, path: str, origin: str, offsite: str) -> bytes:
        """The HTML of `path` (which must be a page)."""
        kind = self.kinds[path]
        items = []
        for link in self.links[path]:
            href = self.href(path, link, origin, offsite)
            if link.form == "upper":
                items.append(f"<LI><A HREF={href}>{href}</A></LI>")
            elif link.form == "quoted":
                items.append(f"<li><a class='x' href='{href}'>{href}</a></li>")
            else:
                items.append(f'<li><a href="{href}">{href}</a></li>')
        base = ""
        if kind is Kind.BASE_HTML:
            # Relative links are written "p/k": right against this base, but /p/p/k (a
            # path the site does not have) against the page's own URL.
            base = f'<base href="{origin}/">'
        filler = _filler(path)
        text = (
            f'<!DOCTYPE html>\n<html><head><meta charset="utf-8">{base}<title>{path}</title>'
            f'</head>\n<body><h1 id="top">Page {path}</h1>\n<p>{filler}</p>\n<ul>\n'
            + "\n".join(items)
            + "\n</ul></body></html>\n"
        )
        return text.encode()

    def text(self, path: str) -> bytes:
        """A text/plain page whose text looks like links (which must not be followed)."""
        return f'Not HTML: <a href="/p/{self.pages + 1}">nothing to follow</a>\n'.encode()

    def location(self, path: str, origin: str, offsite: str) -> str:
        r = self.redirect_map[path]
        if r.form == "offsite":
            return f"{offsite}/p/2"
        target = r.target or ""
        if r.form == "absolute":
            return f"{origin}{target}"
        if r.form == "relative":
            return f"../{target.lstrip('/')}"
        return target


def _filler(path: str) -> str:
    words = ("crawl", "page", "link", "httpr", "engine", "libcurl", "async", "origin")
    rng = random.Random(path)
    out: list[str] = []
    size = 0
    while size < FILLER_BYTES:
        word = rng.choice(words)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)


def gzip_bomb() -> bytes:
    """GZIP_BOMB_BYTES of zeros, gzip-compressed (about 8 KiB)."""
    return gzip.compress(b"\0" * GZIP_BOMB_BYTES, compresslevel=9)


@dataclass(frozen=True)
class Reply:
    """What the server does for one request. `action` is None (send it all), "stall-head",
    "stall-body", "reset-head" or "reset-body"; the -body actions act after `split` bytes
    of the body, "reset-head" after `split` bytes of the status line."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    action: str | None = None
    split: int = 0


class Renderer:
    """Builds replies for one server (its origin and the "other" origin), caching bodies."""

    def __init__(self, site: Site, origin: str, offsite: str) -> None:
        self.site = site
        self.origin = origin
        self.offsite = offsite
        self._html: dict[str, bytes] = {}
        self._gzip: dict[str, bytes] = {}
        self._bomb = gzip_bomb()

    def _page_html(self, path: str) -> bytes:
        body = self._html.get(path)
        if body is None:
            body = self._html[path] = self.site.html(path, self.origin, self.offsite)
        return body

    def reply(self, path: str, hit: int, accepts_gzip: bool) -> Reply:
        """The reply to the `hit`-th request (1-based) for `path`."""
        site = self.site
        html_type = ("content-type", "text/html; charset=utf-8")
        if path in site.redirect_map:
            r = site.redirect_map[path]
            location = site.location(path, self.origin, self.offsite)
            return Reply(r.status, [("location", location)], b"")
        kind = site.kind_of(path)
        if kind is None:
            return Reply(404, [("content-type", "text/plain")], b"no such page\n")
        if kind is Kind.GZIP_HTML and accepts_gzip:
            body = self._gzip.get(path)
            if body is None:
                body = self._gzip[path] = gzip.compress(self._page_html(path))
            return Reply(200, [html_type, ("content-encoding", "gzip")], body)
        if kind in (Kind.HTML, Kind.GZIP_HTML, Kind.BASE_HTML):
            return Reply(200, [html_type], self._page_html(path))
        if kind is Kind.TEXT:
            return Reply(200, [("content-type", "text/plain")], site.text(path))
        if kind in FLAKY_KINDS and hit > 1:
            return Reply(200, [html_type], self._page_html(path))
        if kind is Kind.SLOW_HEAD:
            return Reply(200, [html_type], self._page_html(path), "stall-head")
        if kind is Kind.SLOW_BODY:
            return Reply(200, [html_type], self._page_html(path), "stall-body", 100)
        if kind is Kind.RESET_HEAD:
            return Reply(200, [html_type], self._page_html(path), "reset-head", 9)
        if kind in (Kind.RESET_BODY, Kind.FLAKY_RESET):
            return Reply(200, [html_type], self._page_html(path), "reset-body", 100)
        if kind is Kind.MISSING:
            return Reply(404, [("content-type", "text/plain")], b"gone\n")
        if kind in (Kind.UNAVAILABLE, Kind.FLAKY_UNAVAILABLE):
            return Reply(503, [("content-type", "text/plain")], b"busy\n")
        if kind is Kind.TOO_LARGE:
            return Reply(
                200, [("content-type", "application/octet-stream")], b"x" * TOO_LARGE_BYTES
            )
        if kind is Kind.GZIP_BOMB:
            return Reply(200, [html_type, ("content-encoding", "gzip")], self._bomb)
        if kind is Kind.BAD_GZIP:
            return Reply(200, [html_type, ("content-encoding", "gzip")], b"this is not gzip " * 20)
        raise AssertionError(f"no reply for {kind}")  # Defensive: a new Kind without a reply

#!/usr/bin/env python3
"""Run ONE benchmark configuration (client x cell) in this fresh process; print one JSON line.

run.py starts one worker per configuration, so peak RSS (VmHWM) belongs to that configuration
alone and two clients sharing an import name (our httpr, PyPI's httpr) never meet in one
interpreter. Needs only the standard library plus the client under test.

    python bench/worker.py --client httpx --describe
    python bench/worker.py --client httpx --mode seq --path /5k --n 500 --rounds 5 \
        --base-url http://127.0.0.1:8790

Modes
  seq        one session, N sequential GETs                       (async API if no sync)
  nosession  a new session per request (create, GET, close), N    (async API if no sync)
  threads    T threads sharing one session (one per thread if the adapter is not thread-safe),
             N GETs in all                                        (sync only)
  async      one session, C coroutines on one asyncio loop, N GETs in all, C in flight
  post       one session, N sequential POSTs of 1 MiB             (async API if no sync)
  stream     one session, N sequential 50 MiB downloads read chunk by chunk

Every body is checked: GET bodies byte for byte against the expected (decoded) body, POST
answers against the body length, streams by byte count. Every loop is bounded by its count and
by --max-seconds for the whole configuration (a round cut short is reported as partial).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import importlib.util
import json
import os
import resource
import sys
import threading
import time
import traceback
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import payloads  # noqa: E402

MODES = ("seq", "nosession", "threads", "async", "post", "stream")
# mode -> (sync function, async function) an adapter needs for it
NEEDS = {
    "seq": ("get", "aget"),
    "nosession": ("get", "aget"),
    "threads": ("get", None),
    "async": (None, "aget"),
    "post": ("post", "apost"),
    "stream": ("stream", "astream"),
}


def check_base_url(url: str) -> None:
    u = urlsplit(url)
    if not (url.startswith("http://127.0.0.1:") and u.hostname == "127.0.0.1" and u.port):
        raise SystemExit(f"refusing {url}: the benchmark targets http://127.0.0.1:PORT only")


def strip_proxies() -> None:
    for k in list(os.environ):
        if k.lower().endswith("_proxy"):
            del os.environ[k]
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def load_adapter(name: str):
    """`name` is a module in bench/clients/ or a path to an adapter .py file."""
    if name.endswith(".py") or os.sep in name:
        path = os.path.abspath(name)
        mod_name = "bench_plugin_" + os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(mod_name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = mod
        spec.loader.exec_module(mod)
        return mod
    return importlib.import_module(f"clients.{name}")


def has_sync(ad, fn: str | None) -> bool:
    return (
        bool(fn) and callable(getattr(ad, fn, None)) and callable(getattr(ad, "make_session", None))
    )


def has_async(ad, fn: str | None) -> bool:
    return (
        bool(fn)
        and callable(getattr(ad, fn, None))
        and callable(getattr(ad, "amake_session", None))
    )


def describe(ad) -> dict:
    unsupported = dict(getattr(ad, "UNSUPPORTED", {}) or {})
    modes = [
        m
        for m in MODES
        if m not in unsupported and (has_sync(ad, NEEDS[m][0]) or has_async(ad, NEEDS[m][1]))
    ]
    return {
        "name": getattr(ad, "NAME", ad.__name__.rsplit(".", 1)[-1]),
        "version": ad.version(),
        "modes": modes,
        "unsupported": unsupported,
        "thread_safe": bool(getattr(ad, "THREAD_SAFE", False)),
        "notes": getattr(ad, "NOTES", ""),
        "python": sys.executable,
        "python_version": sys.version.split()[0],
    }


def rss_kib() -> tuple[int, int]:
    """(current RSS, peak RSS) of this process, KiB, from /proc/self/status. Not ru_maxrss:
    on Linux that inherits the parent's high-water mark across fork+exec."""
    cur = peak = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    return cur, peak


def usage() -> tuple[float, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)  # the whole process, native threads too
    return time.perf_counter(), ru.ru_utime + ru.ru_stime


class Deadline:
    def __init__(self, seconds: float):
        self.t = time.perf_counter() + seconds

    def passed(self) -> bool:
        return time.perf_counter() > self.t


class Check:
    """What a response must be; raises on the first wrong one."""

    def __init__(self, mode: str, path: str):
        self.mode = mode
        if mode == "post":
            self.want = str(payloads.POST_BYTES).encode()
        elif mode == "stream":
            self.want = payloads.expected_length(path)
        else:
            self.want = payloads.expected_body(path)
            assert len(self.want) == payloads.expected_length(path)

    def __call__(self, got) -> None:
        if self.mode == "post":
            got = got.encode() if isinstance(got, str) else bytes(got).strip()
        if got != self.want:
            if isinstance(got, (bytes, bytearray, memoryview)):
                raise AssertionError(
                    f"{self.mode}: wrong body ({len(got)} bytes, expected "
                    f"{len(self.want) if self.mode != 'post' else self.want!r})"
                )
            raise AssertionError(f"{self.mode}: got {got!r}, expected {self.want!r}")


# ------------------------------------------------------------------------------ sync drivers
class ThreadDriver:
    """T long-lived threads, created once per configuration outside the timed region."""

    def __init__(self, ad, threads: int, check: Check):
        self.ad, self.t, self.check = ad, threads, check
        shared = ad.make_session(pool=threads) if getattr(ad, "THREAD_SAFE", False) else None
        self.sessions = [shared or ad.make_session(pool=1) for _ in range(threads)]
        self.start_barrier = threading.Barrier(threads + 1)
        self.end_barrier = threading.Barrier(threads + 1)
        self.job: tuple = ()
        self.counts = [0] * threads
        self.errors: list[str] = []
        self.stop = False
        self.workers = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)
        ]
        for w in self.workers:
            w.start()

    def _run(self, i: int) -> None:
        while True:
            self.start_barrier.wait()
            if self.stop:
                return
            url, per, dl = self.job
            c = 0
            try:
                for _ in range(per):
                    self.check(self.ad.get(self.sessions[i], url))
                    c += 1
                    if dl.passed():
                        break
            except Exception as e:  # reported by the main thread
                self.errors.append(f"{type(e).__name__}: {e}")
            self.counts[i] = c
            self.end_barrier.wait()

    def round(self, url: str, n: int, dl: Deadline) -> int:
        self.job = (url, max(1, n // self.t), dl)
        self.counts = [0] * self.t
        self.start_barrier.wait()
        self.end_barrier.wait()
        if self.errors:
            raise RuntimeError(self.errors[0])
        return sum(self.counts)

    def close(self) -> None:
        self.stop = True
        self.start_barrier.wait()
        for w in self.workers:
            w.join(5)
        seen = set()
        for s in self.sessions:
            if id(s) not in seen:
                seen.add(id(s))
                self.ad.close_session(s)


def sync_loop(op, k: int, dl: Deadline) -> int:
    done = 0
    for _ in range(k):
        op()
        done += 1
        if dl.passed():
            break
    return done


async def async_loop(op, k: int, dl: Deadline) -> int:
    done = 0
    for _ in range(k):
        await op()
        done += 1
        if dl.passed():
            break
    return done


async def async_many(op, n: int, conc: int, dl: Deadline) -> int:
    """n requests in all from min(conc, n) coroutines: conc in flight at once."""
    remaining, done = n, 0

    async def one() -> None:
        nonlocal remaining, done
        while remaining > 0 and not dl.passed():
            remaining -= 1
            await op()
            done += 1

    await asyncio.gather(*(one() for _ in range(min(conc, n))))
    return done


# -------------------------------------------------------------------------------------- main
class Runner:
    def __init__(self, a):
        self.a = a
        self.rounds: list[dict] = []
        self.total = 0
        self.dl_all = Deadline(a.max_seconds)

    def record(self, t0: float, c0: float, done: int, target: int) -> None:
        t1, c1 = usage()
        self.rounds.append(
            {"wall_s": t1 - t0, "cpu_s": c1 - c0, "requests": done, "partial": done < target}
        )
        self.total += done

    def round_deadline(self, i: int) -> Deadline:
        """The whole configuration's deadline, except that the first round always runs, for at
        least a quarter of the cap (a slow client's warm-up may have used it all)."""
        if i:
            return self.dl_all
        left = self.dl_all.t - time.perf_counter()
        return Deadline(max(left, self.a.max_seconds / 4))

    def sync_rounds(self, fn, target: int) -> None:
        """fn(k, deadline) -> requests done; warm-up first, then the timed rounds."""
        self.total += fn(max(1, self.a.warmup), Deadline(self.a.max_seconds))
        for i in range(self.a.rounds):
            if i and self.dl_all.passed():
                break
            gc.collect()
            t0, c0 = usage()
            self.record(t0, c0, fn(self.a.n, self.round_deadline(i)), target)

    async def async_rounds(self, fn, target: int) -> None:
        self.total += await fn(max(1, self.a.warmup), Deadline(self.a.max_seconds))
        for i in range(self.a.rounds):
            if i and self.dl_all.passed():
                break
            gc.collect()
            t0, c0 = usage()
            self.record(t0, c0, await fn(self.a.n, self.round_deadline(i)), target)


def run_sync(ad, a, r: Runner, url: str, check: Check) -> None:
    n = a.n
    if a.mode == "threads":
        drv = ThreadDriver(ad, a.threads, check)
        try:
            r.sync_rounds(
                lambda k, dl: drv.round(url, max(k, a.threads), dl), (n // a.threads) * a.threads
            )
        finally:
            drv.close()
        return
    if a.mode == "nosession":

        def one() -> None:
            s = ad.make_session(pool=1)
            try:
                check(ad.get(s, url))
            finally:
                ad.close_session(s)

        r.sync_rounds(lambda k, dl: sync_loop(one, k, dl), n)
        return
    # seq / post / stream: one session for the warm-up and every round
    s = ad.make_session(pool=1)
    try:
        if a.mode == "seq":
            op = lambda: check(ad.get(s, url))  # noqa: E731
        elif a.mode == "post":
            body = payloads.post_body()
            op = lambda: check(ad.post(s, url, body))  # noqa: E731
        else:
            op = lambda: check(ad.stream(s, url))  # noqa: E731
        r.sync_rounds(lambda k, dl: sync_loop(op, k, dl), n)
    finally:
        ad.close_session(s)


async def run_async(ad, a, r: Runner, url: str, check: Check) -> None:
    n = a.n
    if a.mode == "nosession":

        async def one() -> None:
            s = await ad.amake_session(pool=1)
            try:
                check(await ad.aget(s, url))
            finally:
                await ad.aclose_session(s)

        await r.async_rounds(lambda k, dl: async_loop(one, k, dl), n)
        return
    s = await ad.amake_session(pool=a.concurrency if a.mode == "async" else 1)
    try:
        if a.mode in ("async", "seq"):

            async def op() -> None:
                check(await ad.aget(s, url))

        elif a.mode == "post":
            body = payloads.post_body()

            async def op() -> None:
                check(await ad.apost(s, url, body))

        else:

            async def op() -> None:
                check(await ad.astream(s, url))

        if a.mode == "async":
            a.warmup = max(a.warmup, a.concurrency)  # open the whole pool before timing
            await r.async_rounds(lambda k, dl: async_many(op, k, a.concurrency, dl), n)
        else:
            await r.async_rounds(lambda k, dl: async_loop(op, k, dl), n)
    finally:
        await ad.aclose_session(s)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--client", required=True)
    ap.add_argument("--describe", action="store_true")
    ap.add_argument("--mode", choices=MODES)
    ap.add_argument("--base-url", default="http://127.0.0.1:8790")
    ap.add_argument("--path", default="/5k")
    ap.add_argument("--n", type=int, default=500, help="requests per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=50, help="requests before timing")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--max-seconds", type=float, default=30.0, help="cap for the whole config")
    a = ap.parse_args()

    check_base_url(a.base_url)
    strip_proxies()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    out: dict = {"client": a.client, "mode": a.mode, "path": a.path}
    try:
        ad = load_adapter(a.client)
        info = describe(ad)
        if a.describe:
            print(json.dumps(info))
            return
        out.update(name=info["name"], version=info["version"])
        if a.mode in info["unsupported"]:
            out["skipped"] = info["unsupported"][a.mode]
        elif a.mode not in info["modes"]:
            out["skipped"] = f"no {a.mode} API in the adapter"
        else:
            check = Check(a.mode, a.path)
            rss_base = rss_kib()[1]
            r = Runner(a)
            if a.mode == "async" or not has_sync(ad, NEEDS[a.mode][0]):
                out["api"] = "async"
                asyncio.run(run_async(ad, a, r, a.base_url + a.path, check))
            else:
                out["api"] = "sync"
                run_sync(ad, a, r, a.base_url + a.path, check)
            out.update(
                rounds=r.rounds,
                requests_total=r.total,
                rss_base_kib=rss_base,
                rss_peak_kib=rss_kib()[1],
            )
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
        out["traceback"] = traceback.format_exc()[-2000:]
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()

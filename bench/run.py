#!/usr/bin/env python3
"""httpr side by side with the Python HTTP clients a user would otherwise pick.

    make bench                      # .venv/bin/python bench/run.py --local-python .venv/bin/python
    make bench-quick                # --quick: N/10, 2 rounds (a smoke test, ~2-3 min)
    python3 bench/run.py --clients httpr_local,pycurl --modes seq,async
    python3 bench/run.py --clients all          # + the optional peers (niquests)

Steps: bench/setup_peers.sh (nginx-light, the peers venv, PyPI httpr's venv; fast when done),
the C floor compiled into bench/build/, nginx started on 127.0.0.1, then every configuration
(client x cell) in its own fresh worker process (worker.py), the floor's sequential cells
(build/floor), and the results: bench/results/<date>[-quick].{md,csv,json,png} plus
latest.md / latest.png. nginx is stopped (by PID) at the end if this run started it.

Interpreters: httpr_local (this checkout) runs with --local-python (default .venv/bin/python
of the repository); httpr_pypi with the PyPI httpr venv; every other client with the peers
venv. The runner itself needs only the standard library.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import payloads  # noqa: E402
import server  # noqa: E402

OURS = "httpr_local"
FLOOR = "floor"
DEFAULT_CLIENTS = "httpr_local,httpr_pypi,pycurl,primp,curl_cffi,aiohttp,urllib3,requests,httpx"
OPTIONAL_CLIENTS = "niquests"
MODES = ("seq", "nosession", "threads", "async", "post", "stream")
PEERS_VENV = os.environ.get("PEERS_VENV", os.path.join(server.BENCH_DIR, "peers-venv"))
PYPI_VENV = os.environ.get("HTTPR_PYPI_VENV", os.path.join(server.BENCH_DIR, "httpr-pypi-venv"))
SIZE_FACTOR = {"5k": 1.0, "50k": 0.5, "200k": 0.25}
FLOOR_MODE = {"seq": "get", "nosession": "fresh", "post": "post", "stream": "stream"}
MODE_TITLES = {
    "seq": "one client reused, sequential GETs",
    "nosession": "a new client per request (create, GET, close), sequential",
    "threads": "threads sharing one client (one per thread where it is not thread-safe)",
    "async": "one async client, C requests in flight on asyncio",
    "post": "POST of a 1 MiB body, one client, sequential",
    "stream": "streamed download of a 50 MiB body, chunk by chunk, one client",
}


# ---------------------------------------------------------------------------------- the cells
def build_cells(a) -> list[dict]:
    sizes = [s for s in a.sizes.split(",") if s]
    modes = [m for m in a.modes.split(",") if m]
    cells = []

    def add(mode, path, name, n, warm, **extra):
        if a.quick:
            n = max(10, n // 10) if mode != "stream" else 1
            warm = min(warm, 10)
        if mode == "async":  # at least 2 waves a round (1 in quick), the pool opened first
            n = max(n, extra["concurrency"] * (1 if a.quick else 2))
            warm = extra["concurrency"]
        cells.append(
            {
                "name": name,
                "mode": mode,
                "path": path,
                "n": int(n),
                "warmup": int(warm),
                "threads": extra.get("threads"),
                "concurrency": extra.get("concurrency"),
            }
        )

    for mode in [m for m in MODES if m in modes]:
        if mode == "seq":
            for size in sizes:
                add(mode, "/" + size, f"seq {size}", a.n_seq * SIZE_FACTOR[size], 50)
            for size in sizes:
                add(mode, "/raw/" + size, f"seq raw/{size}", a.n_seq * SIZE_FACTOR[size], 50)
        elif mode == "nosession":
            for size in sizes:
                n = a.n_nosession * SIZE_FACTOR[size]
                add(mode, "/" + size, f"new client {size}", n, 5)
        elif mode == "threads":
            for t in [int(x) for x in a.threads.split(",") if x]:
                for size in sizes:
                    n = a.n_threads * SIZE_FACTOR[size]
                    add(mode, "/" + size, f"{t} threads {size}", n, 50, threads=t)
        elif mode == "async":
            for c in [int(x) for x in a.concurrency.split(",") if x]:
                for size in sizes:
                    n = a.n_async * SIZE_FACTOR[size]
                    add(mode, "/" + size, f"async{c} {size}", n, c, concurrency=c)
        elif mode == "post":
            add(mode, "/upload", "POST 1MiB", a.n_post, 5)
        elif mode == "stream":
            add(mode, "/50m", "stream 50MiB", a.n_stream, 1)
    return cells


# --------------------------------------------------------------------------------- processes
def worker_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.pop("PYTHONPATH", None)
    return env


def run_json(cmd: list[str], timeout: float, env: dict) -> dict:
    """Run a worker (or the floor); its last stdout line that is a JSON object is the result."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=HERE)
    except subprocess.TimeoutExpired:
        return {"error": f"killed after {timeout:.0f} s"}
    res = None
    for line in reversed(p.stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                res = json.loads(line)
                break
            except ValueError:
                pass
    if p.returncode != 0 or res is None:
        tail = (p.stderr or p.stdout).strip()[-600:]
        return {**(res or {}), "error": f"exit {p.returncode}: {tail}"}
    return res


def python_for(client: str, a) -> str:
    for item in a.python_for:
        k, _, v = item.partition("=")
        if k == client:
            return v
    if client == OURS:
        return a.local_python
    if client == "httpr_pypi":
        return os.path.join(a.pypi_venv, "bin", "python")
    return os.path.join(a.peers_venv, "bin", "python")


def label(client: str) -> str:
    return os.path.splitext(os.path.basename(client))[0] if client.endswith(".py") else client


def setup(a) -> None:
    env = dict(os.environ, PEERS_VENV=a.peers_venv, HTTPR_PYPI_VENV=a.pypi_venv)
    print("== setup: bench/setup_peers.sh", flush=True)
    subprocess.run(["bash", os.path.join(HERE, "setup_peers.sh")], check=True, env=env)


def build_floor() -> tuple[str | None, str]:
    """Compile floor.c against the system libcurl into bench/build/; (binary, note)."""
    src = os.path.join(HERE, "floor.c")
    out = os.path.join(HERE, "build", "floor")
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return out, ""
    os.makedirs(os.path.dirname(out), exist_ok=True)
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "libcurl"], capture_output=True, text=True
    ).stdout.split() or ["-lcurl"]
    cc = os.environ.get("CC", "cc")
    p = subprocess.run([cc, "-O2", "-o", out, src, *flags], capture_output=True, text=True)
    if p.returncode != 0:
        return None, f"floor.c did not compile: {p.stderr.strip()[-300:]}"
    return out, ""


# ----------------------------------------------------------------------------------- figures
def summarize(res: dict, server_cpu_s: float | None) -> dict:
    rounds = [r for r in res.get("rounds") or [] if r["requests"] > 0]
    if not rounds:
        return {}
    per = [r["wall_s"] / r["requests"] * 1e6 for r in rounds]
    cpu = [r["cpu_s"] / r["requests"] * 1e6 for r in rounds]
    med = statistics.median(per)
    out = {
        "rounds": len(rounds),
        "partial_rounds": sum(bool(r["partial"]) for r in rounds),
        "requests_per_round": rounds[0]["requests"],
        "us_per_req": med,
        "us_min": min(per),
        "us_max": max(per),
        "spread_pct": (max(per) - min(per)) / med * 100 if med else 0.0,
        "cpu_us_per_req": statistics.median(cpu),
        "cpu_per_wall": statistics.median(r["cpu_s"] / r["wall_s"] for r in rounds),
        "rss_base_mb": res["rss_base_kib"] / 1024,
        "rss_peak_mb": res["rss_peak_kib"] / 1024,
        "rss_delta_mb": (res["rss_peak_kib"] - res["rss_base_kib"]) / 1024,
    }
    if server_cpu_s is not None and res.get("requests_total"):
        out["server_cpu_us_per_req"] = server_cpu_s / res["requests_total"] * 1e6
    return out


def add_ratios(rows: list[dict]) -> None:
    """Per cell: the fastest peer (any client but ours and the floor) and the floor; every
    row gets its time divided by each."""
    by_cell: dict[str, list[dict]] = {}
    for r in rows:
        if r["status"] == "ok":
            by_cell.setdefault(r["cell"], []).append(r)
    for cell_rows in by_cell.values():
        peers = [r for r in cell_rows if r["client"] not in (OURS, FLOOR)]
        best = min(peers, key=lambda r: r["us_per_req"]) if peers else None
        floor = next((r for r in cell_rows if r["client"] == FLOOR), None)
        for r in cell_rows:
            if best:
                r["fastest_peer"] = best["client"]
                r["fastest_peer_us"] = best["us_per_req"]
                r["x_fastest_peer"] = r["us_per_req"] / best["us_per_req"]
            if floor:
                r["floor_us"] = floor["us_per_req"]
                r["x_floor"] = r["us_per_req"] / floor["us_per_req"]


def git_info() -> str:
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")  # read-only: no index refresh written
    try:
        head = subprocess.run(
            ["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            env=env,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            env=env,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
    return (head or "?") + (" + uncommitted changes" if dirty else "")


def machine_info() -> dict:
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "kernel": platform.release(),
        "cores": os.cpu_count(),
        "cpu": platform.processor(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(
                ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    try:
        with open("/proc/loadavg") as f:
            info["loadavg_start"] = f.read().split()[0]
    except OSError:
        pass
    return info


# -------------------------------------------------------------------------------------- main
def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="N/10, 2 rounds: a smoke test")
    ap.add_argument(
        "--clients",
        default=DEFAULT_CLIENTS,
        help=f"comma list of adapters in bench/clients/ or paths to adapter files; "
        f"'all' adds {OPTIONAL_CLIENTS} (default {DEFAULT_CLIENTS})",
    )
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--sizes", default="5k,50k,200k")
    ap.add_argument("--threads", default="4,8")
    ap.add_argument("--concurrency", default="100,1000", help="requests in flight, async cells")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n-seq", type=int, default=1000, help="per round, 5k (50k: /2, 200k: /4)")
    ap.add_argument("--n-nosession", type=int, default=100)
    ap.add_argument("--n-threads", type=int, default=1000, help="all threads together")
    ap.add_argument("--n-async", type=int, default=1000, help="at least 2 x in flight")
    ap.add_argument("--n-post", type=int, default=200)
    ap.add_argument("--n-stream", type=int, default=4)
    ap.add_argument(
        "--max-config-seconds",
        type=float,
        default=None,
        help="time cap of one configuration (20 s; quick 8 s); rounds past it "
        "stop early and are marked partial",
    )
    ap.add_argument("--no-floor", action="store_true", help="skip the C floor")
    ap.add_argument("--no-setup", action="store_true", help="do not run setup_peers.sh")
    ap.add_argument("--no-chart", action="store_true")
    ap.add_argument(
        "--local-python",
        default=os.path.join(ROOT, ".venv", "bin", "python"),
        help="interpreter with this checkout's httpr (default: .venv)",
    )
    ap.add_argument("--peers-venv", default=PEERS_VENV)
    ap.add_argument("--pypi-venv", default=PYPI_VENV)
    ap.add_argument("--python-for", action="append", default=[], metavar="CLIENT=PYTHON")
    ap.add_argument("--port", type=int, default=server.DEFAULT_PORT)
    ap.add_argument("--run-dir", default=server.DEFAULT_RUN_DIR)
    ap.add_argument("--server-cpu", default=None, help="taskset CPU list for nginx")
    ap.add_argument("--client-cpu", default=None, help="taskset CPU list for the workers")
    ap.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    ap.add_argument("--tag", default=None, help="output name (default <date>[-quick])")
    a = ap.parse_args(argv)
    if a.quick:
        a.rounds = min(a.rounds, 2)
    if a.max_config_seconds is None:
        a.max_config_seconds = 8.0 if a.quick else 20.0
    if a.clients == "all":
        a.clients = DEFAULT_CLIENTS + "," + OPTIONAL_CLIENTS
    a.local_python = os.path.abspath(a.local_python)
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    t_start = time.perf_counter()
    tag = a.tag or time.strftime("%Y-%m-%d") + ("-quick" if a.quick else "")
    os.makedirs(a.out_dir, exist_ok=True)
    out = os.path.join(a.out_dir, tag)
    if not a.no_setup:
        setup(a)
    floor_bin, floor_note = (None, "--no-floor") if a.no_floor else build_floor()
    if floor_note:
        print(f"!! floor: {floor_note}", flush=True)
    env = worker_env()
    clients = [c for c in a.clients.split(",") if c]
    cells = build_cells(a)

    print("== clients", flush=True)
    infos: dict[str, dict] = {}
    for c in clients:
        py = python_for(c, a)
        d = (
            run_json([py, "worker.py", "--client", c, "--describe"], 120, env)
            if os.path.exists(py)
            else {"error": f"no interpreter {py} (run bench/setup_peers.sh)"}
        )
        infos[label(c)] = d
        if "error" in d:
            print(f"!! {c}: not run: {d['error'].splitlines()[0][:300]}", flush=True)
        else:
            print(f"   {label(c):12s} {d['version']:24s} {d['python']}", flush=True)
    if floor_bin:
        ver = subprocess.run([floor_bin, "--version"], capture_output=True, text=True)
        infos[FLOOR] = {
            "name": FLOOR,
            "version": f"libcurl {ver.stdout.strip()}",
            "python": "",
            "notes": "C on the system libcurl alone (bench/floor.c)",
        }
    mach = machine_info()
    mach["python"] = infos.get(OURS, {}).get("python_version", platform.python_version())
    mach["httpr_commit"] = git_info()

    st = server.read_state(a.run_dir)
    started_here = False
    if not (st and server.alive(st)):
        st = server.start(a.port, a.run_dir, a.server_cpu)
        started_here = True
    base_url = st["base_url"]
    if not base_url.startswith("http://127.0.0.1:"):
        raise SystemExit(f"refusing server at {base_url}: loopback only")
    print(f"== server: nginx {st.get('version', '')} on {base_url} (pid {st['pid']})", flush=True)
    check_files = payloads.write_check_files(os.path.join(a.run_dir, "check"))

    rows: list[dict] = []
    try:
        for cell in cells:
            names = ([FLOOR] if floor_bin and cell["mode"] in FLOOR_MODE else []) + clients
            for c in names:
                rows.append(run_config(a, c, cell, infos, st, floor_bin, check_files, env))
    finally:
        if started_here:
            server.stop(a.run_dir)
    add_ratios(rows)
    elapsed = time.perf_counter() - t_start
    mach["loadavg_end"] = machine_info().get("loadavg_start", "?")
    meta = {
        "tag": tag,
        "quick": a.quick,
        "machine": mach,
        "args": vars(a),
        "elapsed_s": elapsed,
        "server": {k: st.get(k) for k in ("kind", "version", "base_url", "cpu")},
        "clients": infos,
        "cells": cells,
    }
    write_csv(out + ".csv", rows)
    with open(out + ".json", "w") as f:
        json.dump({**meta, "rows": rows}, f, indent=1)
    write_md(out + ".md", rows, meta)
    shutil.copyfile(out + ".md", os.path.join(a.out_dir, "latest.md"))
    written = [".md", ".csv", ".json"]
    if not a.no_chart:
        py = os.path.join(a.peers_venv, "bin", "python")
        p = subprocess.run([py, os.path.join(HERE, "chart.py"), out + ".json", out + ".png"])
        if p.returncode == 0:
            shutil.copyfile(out + ".png", os.path.join(a.out_dir, "latest.png"))
            written.append(".png")
        else:
            print("!! chart.py failed: no PNG this run", flush=True)
    print(f"== wrote {out}{{{','.join(written)}}} and latest.*, in {elapsed / 60:.1f} min")
    bad = [r for r in rows if r["status"] == "error"]
    for r in bad:
        print(f"!! {r['cell']} {r['client']}: {r['note'][:300]}")
    return 1 if bad else 0


def run_config(a, client, cell, infos, st, floor_bin, check_files, env) -> dict:
    name = label(client)
    info = infos.get(name, {})
    row = {
        "cell": cell["name"],
        "mode": cell["mode"],
        "payload": cell["path"].lstrip("/"),
        "threads": cell["threads"] or "",
        "concurrency": cell["concurrency"] or "",
        "client": name,
        "version": info.get("version", ""),
        "api": "",
        "n_per_round": cell["n"],
        "status": "ok",
        "note": "",
    }
    if "error" in info:
        row.update(status="not run", note="client not available")
        return row
    if client != FLOOR and cell["mode"] in info.get("unsupported", {}):
        row.update(status="n/s", note=info["unsupported"][cell["mode"]])
        print(f"{cell['name']:18s} {name:12s} n/s  {row['note']}", flush=True)
        return row
    if client != FLOOR and cell["mode"] not in info.get("modes", []):
        row.update(status="no API", note=f"no {cell['mode']} API")
        return row
    timeout = a.max_config_seconds + 60
    if client == FLOOR:
        check = (
            str(payloads.STREAM_BYTES) if cell["mode"] == "stream" else check_files[cell["path"]]
        )
        cmd = [
            floor_bin,
            FLOOR_MODE[cell["mode"]],
            st["base_url"] + cell["path"],
            str(cell["n"]),
            str(a.rounds),
            str(cell["warmup"]),
            str(a.max_config_seconds),
            check,
        ]
    else:
        cmd = [
            python_for(client, a),
            "worker.py",
            "--client",
            client,
            "--mode",
            cell["mode"],
            "--path",
            cell["path"],
            "--base-url",
            st["base_url"],
            "--n",
            str(cell["n"]),
            "--rounds",
            str(a.rounds),
            "--warmup",
            str(cell["warmup"]),
            "--max-seconds",
            str(a.max_config_seconds),
        ]
        if cell["threads"]:
            cmd += ["--threads", str(cell["threads"])]
        if cell["concurrency"]:
            cmd += ["--concurrency", str(cell["concurrency"])]
    if a.client_cpu:
        cmd = ["taskset", "-c", a.client_cpu, *cmd]
    s0 = server.server_cpu_seconds(st)
    res = run_json(cmd, timeout, env)
    s1 = server.server_cpu_seconds(st)
    row["api"] = res.get("api", "")
    row["raw_rounds"] = res.get("rounds")
    if "error" in res:
        row.update(status="error", note=res["error"], traceback=res.get("traceback", ""))
        print(f"{cell['name']:18s} {name:12s} ERROR {res['error'][:300]}", flush=True)
        return row
    if "skipped" in res:
        row.update(status="n/s", note=res["skipped"])
        return row
    summ = summarize(res, s1 - s0)
    if not summ:
        row.update(status="error", note="no request completed")
        return row
    row.update(summ)
    print(
        f"{cell['name']:18s} {name:12s} {summ['us_per_req']:10.1f} us/req "
        f"±{summ['spread_pct']:5.1f}%  cpu {summ['cpu_us_per_req']:9.1f} us  "
        f"rss {summ['rss_peak_mb']:6.1f} MB (+{summ['rss_delta_mb']:.1f})  "
        f"srv {summ.get('server_cpu_us_per_req', 0):5.1f} us",
        flush=True,
    )
    return row


# ------------------------------------------------------------------------------------ output
CSV_FIELDS = [
    "cell",
    "mode",
    "payload",
    "threads",
    "concurrency",
    "client",
    "version",
    "api",
    "status",
    "n_per_round",
    "rounds",
    "partial_rounds",
    "requests_per_round",
    "us_per_req",
    "us_min",
    "us_max",
    "spread_pct",
    "cpu_us_per_req",
    "cpu_per_wall",
    "rss_base_mb",
    "rss_peak_mb",
    "rss_delta_mb",
    "server_cpu_us_per_req",
    "fastest_peer",
    "fastest_peer_us",
    "x_fastest_peer",
    "floor_us",
    "x_floor",
    "note",
]


def write_csv(path: str, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()})


def fmt_us(x: float | None, stream: bool = False) -> str:
    """µs per request (ms for the 50 MiB stream)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if stream:
        x /= 1000
        return f"{x:,.1f}"
    return f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def fmt_x(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def cell_label(cell: dict) -> str:
    return cell["name"] + (" (ms)" if cell["mode"] == "stream" else "")


def status_mark(r: dict | None) -> str:
    if r is None:
        return ""
    return {"n/s": "n/s", "no API": "–", "error": "ERR", "not run": "not run"}.get(r["status"], "")


def write_md(path: str, rows: list[dict], meta: dict) -> None:
    mach, a, srv, infos = meta["machine"], meta["args"], meta["server"], meta["clients"]
    cells = meta["cells"]
    clients = []
    for r in rows:
        if r["client"] not in clients:
            clients.append(r["client"])
    get = {(r["cell"], r["client"]): r for r in rows}
    L: list[str] = []
    kind = (
        "quick run (smoke test: N/10, 2 rounds; numbers are indicative only)"
        if meta["quick"]
        else "full run"
    )
    L.append(f"# httpr benchmark — {mach['date']}, {kind}\n")
    L.append(
        f"Machine: {mach['cpu']}, {mach['cores']} cores, Linux {mach['kernel']}, "
        f"Python {mach['python']}, load average {mach.get('loadavg_start', '?')} at the start "
        f"and {mach.get('loadavg_end', '?')} at the end (other work on the machine adds noise). "
        f"Server: nginx {srv.get('version') or ''} (1 worker, static files) on {srv['base_url']}"
        f"{', pinned to CPU ' + srv['cpu'] if srv.get('cpu') else ''}. "
        f"httpr_local = this checkout at {mach['httpr_commit']}. "
        f"The run took {meta['elapsed_s'] / 60:.1f} min.\n"
    )
    L.append(
        f"Every configuration (client × cell) ran in a fresh process: a warm-up, then "
        f"{a['rounds']} timed rounds of N requests (capped at {a['max_config_seconds']:.0f} s "
        "per configuration). **µs/req** is the median over the rounds of wall time per request; "
        "**±** the spread (max − min) / median; **CPU** user+sys of the whole client process "
        "(all threads) per request; **peak RSS** the process's VmHWM, **Δ** its growth during "
        "the run. Every body was checked (GET bodies byte for byte after decoding, the POST "
        "answer, the streamed byte count). **× peer** = time ÷ the fastest peer's in that cell "
        "(peers: every client but httpr_local); **× floor** = time ÷ the C floor's (libcurl "
        "alone, bench/floor.c; sequential cells only). GET bodies 5k/50k/200k are gzip of "
        "base64 of 5/50/200 KiB random bytes (6.8/68/273 KB decoded); raw/* the random bytes "
        "uncompressed. Lower is better everywhere.\n"
    )

    # -- ours against the field
    L.append("## httpr (this checkout) against the fastest peer and the floor\n")
    L.append(
        "| cell | httpr µs/req | ± | CPU µs/req | peak RSS MB | RSS Δ MB | fastest peer "
        "| its µs/req | × fastest peer | floor µs/req | × floor |"
    )
    L.append("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    for cell in cells:
        r = get.get((cell["name"], OURS))
        stream = cell["mode"] == "stream"
        if r is None:
            continue
        if r["status"] != "ok":
            peer_rows = [
                x
                for x in rows
                if x["cell"] == cell["name"]
                and x["status"] == "ok"
                and x["client"] not in (OURS, FLOOR)
            ]
            best = min(peer_rows, key=lambda x: x["us_per_req"], default=None)
            floor = get.get((cell["name"], FLOOR))
            floor_us = floor.get("us_per_req") if floor and floor["status"] == "ok" else None
            L.append(
                f"| {cell_label(cell)} | **{status_mark(r)}**: {r['note'][:120]} | | | | | "
                f"{best['client'] if best else '–'} | "
                f"{fmt_us(best['us_per_req'] if best else None, stream)} | – | "
                f"{fmt_us(floor_us, stream)} | – |"
            )
            continue
        L.append(
            f"| {cell_label(cell)} | {fmt_us(r['us_per_req'], stream)} | {r['spread_pct']:.0f}% "
            f"| {fmt_us(r['cpu_us_per_req'], stream)} | {r['rss_peak_mb']:.1f} "
            f"| {r['rss_delta_mb']:.1f} | {r.get('fastest_peer', '–')} "
            f"| {fmt_us(r.get('fastest_peer_us'), stream)} | **{fmt_x(r.get('x_fastest_peer'))}** "
            f"| {fmt_us(r.get('floor_us'), stream)} | {fmt_x(r.get('x_floor'))} |"
        )
    L.append("\n(stream: ms per 50 MiB download; CPU likewise.)\n")

    # -- the matrix
    py_clients = [c for c in clients if c != FLOOR]
    cols = ([FLOOR] if FLOOR in clients else []) + py_clients
    L.append("## Every client: median µs per request\n")
    L.append(
        "Bold: the fastest Python client in the cell. n/s: not supported yet; –: the client "
        "has no such API; ERR: failed (see the errors below). stream: ms per 50 MiB.\n"
    )
    L.append("| cell | " + " | ".join(cols) + " |")
    L.append("|---|" + "---:|" * len(cols))
    for cell in cells:
        ok = [
            get[(cell["name"], c)]
            for c in py_clients
            if (cell["name"], c) in get and get[(cell["name"], c)]["status"] == "ok"
        ]
        best = min((r["us_per_req"] for r in ok), default=None)
        vals = []
        for c in cols:
            r = get.get((cell["name"], c))
            if r is None or r["status"] != "ok":
                vals.append(status_mark(r))
                continue
            s = fmt_us(r["us_per_req"], cell["mode"] == "stream")
            vals.append(f"**{s}**" if c != FLOOR and r["us_per_req"] == best else s)
        L.append(f"| {cell_label(cell)} | " + " | ".join(vals) + " |")
    L.append("")

    # -- ranking
    L.append("## Ranking\n")
    L.append(
        "Score: geometric mean, over the cells a client ran, of its time ÷ the fastest Python "
        "client's in that cell (1.00 = fastest everywhere).\n"
    )
    score = {}
    for c in py_clients:
        ratios = []
        for cell in cells:
            r = get.get((cell["name"], c))
            ok = [
                x
                for x in rows
                if x["cell"] == cell["name"] and x["status"] == "ok" and x["client"] != FLOOR
            ]
            if r is not None and r["status"] == "ok":
                ratios.append(r["us_per_req"] / min(x["us_per_req"] for x in ok))
        if ratios:
            score[c] = (math.exp(sum(map(math.log, ratios)) / len(ratios)), len(ratios))
    L.append("| rank | client | version | score | cells run |")
    L.append("|---:|---|---|---:|---:|")
    for i, c in enumerate(sorted(score, key=lambda c: score[c][0]), 1):
        name = f"**{c}**" if c == OURS else c
        ver = infos.get(c, {}).get("version", "")
        L.append(f"| {i} | {name} | {ver} | {score[c][0]:.2f} | {score[c][1]} |")
    L.append("")

    # -- cells in detail
    L.append("## Cells in detail\n")
    for cell in cells:
        stream = cell["mode"] == "stream"
        unit = "ms" if stream else "µs"
        crows = [r for r in rows if r["cell"] == cell["name"]]
        extra = {
            "threads": f", {cell['threads']} threads",
            "async": f", {cell['concurrency']} in flight",
        }.get(cell["mode"], "")
        L.append(
            f"### {cell['name']} — {MODE_TITLES[cell['mode']]}{extra}; N = {cell['n']} per round\n"
        )
        L.append(
            f"| client | api | {unit}/req | ± | CPU {unit}/req | CPU/wall | peak RSS MB "
            "| RSS Δ MB | × fastest peer | × floor | server µs/req |"
        )
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in sorted((r for r in crows if r["status"] == "ok"), key=lambda r: r["us_per_req"]):
            name = f"**{r['client']}**" if r["client"] == OURS else r["client"]
            api = r["api"]
            if cell["mode"] == "threads" and r["client"] == "pycurl":
                api += ", 1 handle/thread"
            partial = f" ({r['partial_rounds']} partial)" if r.get("partial_rounds") else ""
            L.append(
                f"| {name} | {api} | {fmt_us(r['us_per_req'], stream)}{partial} "
                f"| {r['spread_pct']:.0f}% | {fmt_us(r['cpu_us_per_req'], stream)} "
                f"| {r['cpu_per_wall']:.2f} | {r['rss_peak_mb']:.1f} | {r['rss_delta_mb']:.1f} "
                f"| {fmt_x(r.get('x_fastest_peer'))} | {fmt_x(r.get('x_floor'))} "
                f"| {fmt_us(r.get('server_cpu_us_per_req'))} |"
            )
        for r in crows:
            if r["status"] in ("n/s", "error"):
                L.append(f"| {r['client']} | | **{status_mark(r)}** | | | | | | | | |")
        L.append("")
        for r in crows:
            if r["status"] in ("n/s", "error"):
                L.append(f"- {r['client']}: {status_mark(r)}: {r['note'][:400]}")
        if any(r["status"] in ("n/s", "error") for r in crows):
            L.append("")

    # -- versions
    L.append("## Clients\n")
    L.append("| client | version | interpreter | notes |")
    L.append("|---|---|---|---|")
    for c, info in infos.items():
        if "error" in info:
            L.append(f"| {c} | – | – | not run: {info['error'].splitlines()[0][:200]} |")
        else:
            L.append(
                f"| {c} | {info.get('version', '')} | {info.get('python', '')} "
                f"| {info.get('notes', '')} |"
            )
    L.append("")
    L.append("## Reproduce\n")
    cmd = "make bench-quick" if meta["quick"] else "make bench"
    L.append(
        f"`{cmd}` (or `.venv/bin/python bench/run.py {' '.join(sys.argv[1:])}`); "
        "see bench/README.md.\n"
    )
    with open(path, "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    sys.exit(main())

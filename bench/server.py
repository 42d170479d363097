#!/usr/bin/env python3
"""Start / stop / inspect the benchmark's nginx, on 127.0.0.1 only.

    python3 bench/server.py start [--port 8790]   # keep one server across several runs
    python3 bench/server.py status
    python3 bench/server.py stop

nginx (Debian's nginx-light; bench/setup_peers.sh installs it) runs with 1 worker and its own
config, data and logs under the run dir (default /var/tmp/httpr-bench/run); its PIDs are
recorded in <run dir>/server.json and `stop` ends exactly those PIDs (after checking that each
is still the nginx we started), nothing else. run.py starts and stops it by itself when no
server is running.

Why nginx: on this 2-core machine it answers a sequential 5k request in ~20 us using ~11 us of
CPU, 3x less CPU than granian or uvicorn (measured with wrk, server on CPU 0 and wrk on CPU 1:
49,000 req/s for 5k on one connection, 170,000 on 64), so the client under test, not the
server, dominates every cell; the server CPU per request is reported in each row as a check.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import payloads  # noqa: E402

HOST = "127.0.0.1"  # never anything else
DEFAULT_PORT = 8790  # and 8791 for the POST sink
BENCH_DIR = os.environ.get("HTTPR_BENCH_DIR", "/var/tmp/httpr-bench")
DEFAULT_RUN_DIR = os.path.join(BENCH_DIR, "run")
MARKER = "nginx"

NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process on;
pid {run}/nginx.pid;
error_log {run}/nginx-error.log warn;
worker_rlimit_nofile 16384;
events {{ worker_connections 8192; multi_accept on; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    open_file_cache max=64 inactive=600s;
    types {{ }}
    default_type application/octet-stream;
    etag off;
    server_tokens off;
    client_body_temp_path {run}/nginx-tmp/body;
    proxy_temp_path {run}/nginx-tmp/proxy;
    fastcgi_temp_path {run}/nginx-tmp/fastcgi;
    uwsgi_temp_path {run}/nginx-tmp/uwsgi;
    scgi_temp_path {run}/nginx-tmp/scgi;

    upstream sink {{ server {host}:{sink_port}; keepalive 64; }}

    server {{
        listen {host}:{port} backlog=4096;
        root {data};
        # gzip bodies, sent with Content-Encoding: gzip whatever the client asks
        location ~ ^/(5k|50k|200k)$ {{
            add_header Content-Encoding gzip;
            rewrite ^ /gz$uri break;
        }}
        location /raw/ {{ }}
        location = /50m {{ }}
        # POST: the proxy module reads the WHOLE request body (into memory: buffer > body)
        # before it answers, and handles Expect: 100-continue; the body is not forwarded,
        # the sink answers its length.
        location = /upload {{
            client_max_body_size 16m;
            client_body_buffer_size 4m;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Body-Len $content_length;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://sink/ok;
        }}
        location / {{ return 404; }}
    }}
    server {{
        listen {host}:{sink_port};
        location / {{ return 200 "$http_x_body_len"; }}
    }}
}}
"""


def _state_path(run_dir: str) -> str:
    return os.path.join(run_dir, "server.json")


def read_state(run_dir: str) -> dict | None:
    try:
        with open(_state_path(run_dir)) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return None


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _ours(pid: int, st: dict) -> bool:
    """The PID is still an nginx running our config (not a reused PID)."""
    cmd = _cmdline(pid)
    return MARKER in cmd and (st["run_dir"] in cmd or pid in st.get("pids", [])[1:])


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return out


def server_pids(st: dict) -> list[int]:
    """The master PID plus its live descendants (the nginx worker)."""
    pids, todo = [], [st["pid"]]
    while todo:
        p = todo.pop()
        if _cmdline(p) and p not in pids:
            pids.append(p)
            todo.extend(_children(p))
    return pids


def alive(st: dict) -> bool:
    return MARKER in _cmdline(st["pid"]) and st["run_dir"] in _cmdline(st["pid"])


def server_cpu_seconds(st: dict) -> float:
    """CPU time of the server's processes, seconds: /proc/PID/schedstat (nanoseconds), else
    utime+stime from /proc/PID/stat (10 ms ticks)."""
    total = 0.0
    for p in server_pids(st):
        try:
            with open(f"/proc/{p}/schedstat") as f:
                total += int(f.read().split()[0]) / 1e9
            continue
        except (OSError, IndexError, ValueError):
            pass
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def _probe(port: int, timeout: float = 1.0) -> bool:
    try:
        c = http.client.HTTPConnection(HOST, port, timeout=timeout)
        c.request("GET", "/raw/5k")
        r = c.getresponse()
        ok = r.status == 200 and len(r.read()) == 5 * 1024
        c.close()
        return ok
    except OSError:
        return False


def _port_free(port: int) -> bool:
    for p in (port, port + 1):
        with socket.socket() as s:
            try:
                s.bind((HOST, p))
            except OSError:
                return False
    return True


def find_nginx() -> str:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        raise SystemExit(
            "nginx not found: run bench/setup_peers.sh (as root it installs nginx-light)"
        )
    return nginx


def start(port: int = DEFAULT_PORT, run_dir: str = DEFAULT_RUN_DIR, cpu: str | None = None) -> dict:
    """Start nginx on the first free pair of ports from `port` (port, port+1)."""
    st = read_state(run_dir)
    if st and alive(st):
        raise SystemExit(f"a server is already running (pid {st['pid']}); stop it first")
    nginx = find_nginx()
    os.makedirs(run_dir, exist_ok=True)
    data = payloads.write_files(os.path.join(run_dir, "data"))
    for _ in range(20):
        if _port_free(port):
            break
        port += 2
    else:
        raise SystemExit(f"no free port pair on {HOST} near {port}")
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(run_dir, "nginx-tmp", sub), exist_ok=True)
    conf = os.path.join(run_dir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(run=run_dir, host=HOST, port=port, sink_port=port + 1, data=data))
    cmd = [nginx, "-p", run_dir, "-c", conf, "-e", os.path.join(run_dir, "nginx-error.log")]
    if cpu:
        cmd = ["taskset", "-c", cpu, *cmd]
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    with open(os.path.join(run_dir, "server.log"), "ab") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=run_dir,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    st = {
        "kind": "nginx",
        "pid": proc.pid,
        "port": port,
        "host": HOST,
        "cpu": cpu,
        "run_dir": run_dir,
        "base_url": f"http://{HOST}:{port}",
        "cmd": cmd,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    with open(_state_path(run_dir), "w") as f:
        json.dump(st, f, indent=1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            os.remove(_state_path(run_dir))
            raise SystemExit(f"nginx exited with {proc.returncode}; see {run_dir}/nginx-error.log")
        if _probe(port):
            break
        time.sleep(0.1)
    else:
        stop(run_dir)
        raise SystemExit("nginx did not answer within 30 s")
    st["pids"] = server_pids(st)
    st["version"] = nginx_version(nginx)
    with open(_state_path(run_dir), "w") as f:
        json.dump(st, f, indent=1)
    return st


def nginx_version(nginx: str) -> str:
    p = subprocess.run([nginx, "-v"], capture_output=True, text=True)
    return (p.stderr or p.stdout).strip().rsplit("/", 1)[-1]


def stop(run_dir: str = DEFAULT_RUN_DIR) -> None:
    st = read_state(run_dir)
    if not st:
        print("no server state; nothing to stop")
        return
    pids = server_pids(st) if alive(st) else []
    pids += [p for p in st.get("pids", []) if p not in pids]  # a worker left orphaned
    pids = [p for p in pids if _ours(p, st)]
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_ours(p, st) for p in pids):
        _reap(st["pid"], 0.1)
    for p in pids:
        if _ours(p, st):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    _reap(st["pid"], 3.0)
    os.remove(_state_path(run_dir))
    print(f"stopped nginx pids {pids}")


def _reap(pid: int, wait_s: float) -> None:
    """Collect the exit status when this process started the server (no zombie left)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            time.sleep(min(0.05, wait_s))
            return
        if done or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("action", choices=["start", "stop", "status"])
    ap.add_argument("--port", type=int, default=DEFAULT_PORT)
    ap.add_argument("--cpu", default=None, help="pin nginx with taskset -c CPU (e.g. 0)")
    ap.add_argument("--run-dir", default=DEFAULT_RUN_DIR)
    a = ap.parse_args()
    if a.action == "start":
        print(json.dumps(start(a.port, a.run_dir, a.cpu)))
    elif a.action == "stop":
        stop(a.run_dir)
    else:
        st = read_state(a.run_dir)
        if st and alive(st):
            print(json.dumps({**st, "pids": server_pids(st), "cpu_s": server_cpu_seconds(st)}))
        else:
            print("not running")
            sys.exit(1)


if __name__ == "__main__":
    main()

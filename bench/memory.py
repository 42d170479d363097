"""Streaming memory check (issue 7, design.md 4): 1 GiB downloaded to a reader that sleeps
1 ms per chunk, and 1 GiB uploaded from a generator, each in a fresh process; prints the
peak RSS (VmHWM) above the process's baseline. Target: < 64 MiB of growth.

    .venv/bin/python bench/memory.py          # about 25 s; loopback only
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

GIB = 1 << 30
BLOCK = bytes(range(256)) * 256  # 64 KiB


def serve(port: int) -> None:
    """A loopback server: GET sends 1 GiB; a chunked POST is counted and the count returned."""

    def handle(conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(65536)
        if head.startswith(b"GET"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % GIB)
            for _ in range(GIB // len(BLOCK)):
                conn.sendall(BLOCK)
        else:
            n, tail = len(head.split(b"\r\n\r\n", 1)[1]), b""
            while not tail.endswith(b"0\r\n\r\n"):
                data = conn.recv(1 << 20)
                if not data:
                    break
                n, tail = n + len(data), (tail + data)[-16:]
            body = str(n).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        conn.close()

    listener = socket.socket()
    listener.bind(("127.0.0.1", port))
    listener.listen(8)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith(field))


def client(mode: str, port: int) -> None:
    import httpr

    url = f"http://127.0.0.1:{port}/"
    base, start = _status("VmRSS:"), time.perf_counter()
    with httpr.Client(timeout=httpr.Timeout(30.0)) as c:
        if mode == "download":
            total = 0
            with c.stream("GET", url) as r:
                for chunk in r.iter_bytes():
                    total += len(chunk)
                    time.sleep(0.001)
        else:

            def blocks():  # type: ignore[no-untyped-def]
                for _ in range(GIB // len(BLOCK)):
                    yield BLOCK

            total = int(c.post(url, content=blocks()).text)
    growth = _status("VmHWM:") - base
    print(
        f"{mode:8s} {total / GIB:.2f} GiB in {time.perf_counter() - start:5.1f} s: "
        f"baseline {base} MiB, peak growth {growth} MiB (target < 64)"
    )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--client":
        client(sys.argv[2], int(sys.argv[3]))
        return
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        time.sleep(0.5)
        for mode in ("download", "upload"):
            subprocess.run([sys.executable, __file__, "--client", mode, str(port)], check=True)
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()

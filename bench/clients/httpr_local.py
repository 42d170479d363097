"""httpr_local: OUR httpr (libcurl + cffi), imported from this checkout.

It shares the import name `httpr` with PyPI's Rust httpr, so it never runs in the same
process as clients/httpr_pypi.py: run.py runs each configuration in its own worker, and this
adapter's worker with the checkout's interpreter (`--local-python`, default .venv/bin/python,
where `make install` put the checkout in editable mode). The repository root (or
$HTTPR_LOCAL_PATH) goes first on sys.path, and the import is refused unless it resolves there.

The stream cell uses `client.stream()` and `iter_bytes()`; an older checkout without
`httpr.Client.stream` reports it as "not supported yet".
"""

import os
import sys

_ROOT = os.path.abspath(
    os.environ.get("HTTPR_LOCAL_PATH")
    or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
)
sys.path.insert(0, _ROOT)
for _m in [m for m in sys.modules if m == "httpr" or m.startswith("httpr.")]:
    del sys.modules[_m]

import httpr  # noqa: E402

if not os.path.abspath(httpr.__file__).startswith(_ROOT + os.sep):
    raise ImportError(f"httpr_local: `import httpr` gave {httpr.__file__}, not one under {_ROOT}")
if hasattr(httpr, "RClient"):
    raise ImportError(f"httpr_local: {httpr.__file__} is PyPI's Rust httpr")

NAME = "httpr_local"
THREAD_SAFE = True
NOTES = f"this checkout ({os.path.dirname(httpr.__file__)})"
UNSUPPORTED = {}
if not hasattr(httpr.Client, "stream"):
    UNSUPPORTED["stream"] = "not supported yet: httpr.Client.stream() is not built"


def version() -> str:
    return getattr(httpr, "__version__", "?")


def make_session(pool: int = 10):
    return httpr.Client(max_connections=max(pool, 1))


def close_session(s) -> None:
    s.close()


def get(s, url) -> bytes:
    return s.get(url).content


def post(s, url, body) -> bytes:
    return s.post(url, content=body).content


if "stream" not in UNSUPPORTED:

    def stream(s, url) -> int:
        n = 0
        with s.stream("GET", url) as r:
            for chunk in r.iter_bytes():
                n += len(chunk)
        return n


async def amake_session(pool: int = 100):
    return httpr.AsyncClient(max_concurrency=pool, max_connections=pool)


async def aclose_session(s) -> None:
    await s.aclose()


async def aget(s, url) -> bytes:
    return (await s.get(url)).content

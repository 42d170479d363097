"""run_transfer (httpr_xfer_run): a sync request in one cffi call when it ends within a wait
slice and fits the thread's copy buffer; otherwise the started Transfer comes back. Each
outcome, with the record counters back to baseline after each."""

from __future__ import annotations

from httpr._curl import counters
from httpr._curl.engine import Engine
from httpr._curl.xfer import (
    HTTP_1_1,
    RUN_COPY_BYTES,
    WAIT_SLICE_MS,
    Result,
    Transfer,
    TransferOptions,
    run_transfer,
)
from tests.servers.app import payload


def _run(engine: Engine, url: str) -> Result | Transfer:
    opts = TransferOptions(http_version=HTTP_1_1, connect=5.0)
    return run_transfer(engine, opts, b"GET", url.encode(), b"Accept: */*\0", b"", 0)


def test_small_fast_big_and_slow_responses(server) -> None:
    engine = Engine(None, None)
    try:
        _run(engine, f"{server.url}/bytes?size=10")  # warm: the connection and a record
        base = counters()["in_flight"]
        small = _run(engine, f"{server.url}/bytes?size=1000")
        assert isinstance(small, Result)  # copied; its record went back in the same call
        assert small.status == 200 and small.body == payload(1000)
        assert small.head.startswith(b"HTTP/1.1 200")

        big = _run(engine, f"{server.url}/bytes?size={RUN_COPY_BYTES + 1}")
        assert isinstance(big, Result)  # too big to copy: read from the record, then freed
        assert big.body == payload(RUN_COPY_BYTES + 1)

        slow = _run(engine, f"{server.url}/delay?s={3 * WAIT_SLICE_MS / 1000}")
        assert isinstance(slow, Transfer)  # not done within one slice: finish() as usual
        try:
            assert slow.finish().body == b"ok"
        finally:
            slow.free()
        assert counters()["in_flight"] == base
    finally:
        engine.close()
        engine.release()

"""multipart/form-data uploads end to end (api.md 4.3, 4.4; 17 `files`).

Every form of api.md 4.4's table goes to /echo; the body the server received is split on
its boundary here (a parser of our own, so nothing is normalised on the way) and checked
part by part, with the framing headers that carried it.
"""

from __future__ import annotations

import io
import os
import pathlib
import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests.requests_api._support import body_bytes, echo, values
from tests.servers.raw import serve_bytes


@dataclass
class Part:
    headers: dict[str, str]  # lowercase names
    content: bytes

    @property
    def disposition(self) -> dict[str, str]:
        value = self.headers["content-disposition"]
        assert value.startswith("form-data"), value
        return dict(re.findall(r';\s*([a-z*]+)="([^"]*)"', value))

    @property
    def name(self) -> str:
        return self.disposition["name"]

    @property
    def filename(self) -> str | None:
        return self.disposition.get("filename")

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


def uploaded(response: Any) -> list[Part]:
    """The parts /echo received, checking the framing: one multipart/form-data
    Content-Type whose boundary delimits the body, which ends with the close delimiter."""
    [ctype] = values(response, "Content-Type")
    match = re.fullmatch(r'multipart/form-data; boundary="?([^";]+)"?', ctype)
    assert match, ctype
    delimiter = b"--" + match.group(1).encode("ascii")
    body = body_bytes(response)
    assert body.startswith(delimiter + b"\r\n"), body[:80]
    assert body.endswith(delimiter + b"--\r\n"), body[-80:]
    parts = []
    for chunk in body[: -len(delimiter + b"--\r\n")].split(delimiter)[1:]:
        assert chunk.startswith(b"\r\n") and chunk.endswith(b"\r\n")
        head, sep, content = chunk[2:-2].partition(b"\r\n\r\n")
        assert sep, chunk[:200]
        headers = {}
        for line in head.decode("utf-8").split("\r\n"):
            name, _, value = line.partition(": ")
            headers[name.lower()] = value
        parts.append(Part(headers, content))
    return parts


def framing(response: Any) -> dict[str, list[str]]:
    return {n: values(response, n) for n in ("Content-Length", "Transfer-Encoding")}


def assert_sized(response: Any) -> None:
    """api.md 4.4: every part's size known -> Content-Length (the body's), no chunking."""
    f = framing(response)
    assert f["Transfer-Encoding"] == []
    assert f["Content-Length"] == [str(len(body_bytes(response)))]


@pytest.fixture
def report(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "report.txt"
    path.write_bytes(b"hello report\r\nline 2\n")
    return path


# -- each form of api.md 4.4 -------------------------------------------------------------------


def test_path_as_str(new_client: Any, server: Any, report: pathlib.Path) -> None:
    """api.md 4.4 row 1: a str path -> basename, the file's bytes, guessed type."""
    r = new_client().post(f"{server.url}/echo", files={"doc": str(report)})
    [part] = uploaded(r)
    assert (part.name, part.filename, part.content_type) == ("doc", "report.txt", "text/plain")
    assert part.content == report.read_bytes()
    assert_sized(r)


def test_path_as_pathlike(new_client: Any, server: Any, tmp_path: pathlib.Path) -> None:
    """api.md 4.4 row 1: os.PathLike too; unknown extensions are application/octet-stream."""
    data = tmp_path / "data.json"
    data.write_bytes(b'{"a": 1}')
    blob = tmp_path / "blob.unknown-ext"
    blob.write_bytes(bytes(range(256)))
    r = new_client().post(f"{server.url}/echo", files={"j": data, "b": blob})
    j, b = uploaded(r)
    assert (j.name, j.filename, j.content_type, j.content) == (
        "j",
        "data.json",
        "application/json",
        b'{"a": 1}',
    )
    assert (b.name, b.filename) == ("b", "blob.unknown-ext")
    assert b.content_type == "application/octet-stream"
    assert b.content == bytes(range(256))
    assert_sized(r)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_bytes_like(new_client: Any, server: Any, kind: Any) -> None:
    """api.md 4.4 row 2: bytes-like -> filename = field name, application/octet-stream."""
    r = new_client().post(f"{server.url}/echo", files={"raw": kind(b"\x00\x01binary\xff")})
    [part] = uploaded(r)
    assert (part.name, part.filename) == ("raw", "raw")
    assert part.content_type == "application/octet-stream"
    assert part.content == b"\x00\x01binary\xff"
    assert_sized(r)


def test_file_object_with_name(new_client: Any, server: Any, report: pathlib.Path) -> None:
    """api.md 4.4 row 3: a binary file -> basename of f.name, read from the current
    position, guessed type."""
    with open(report, "rb") as f:
        f.seek(6)
        r = new_client().post(f"{server.url}/echo", files={"doc": f})
    [part] = uploaded(r)
    assert (part.filename, part.content_type) == ("report.txt", "text/plain")
    assert part.content == report.read_bytes()[6:]
    assert_sized(r)


def test_file_object_without_name(new_client: Any, server: Any) -> None:
    """api.md 4.4 row 3: no str name (BytesIO) -> filename = field name, octet-stream."""
    buf = io.BytesIO(b"in memory")
    r = new_client().post(f"{server.url}/echo", files={"mem": buf})
    [part] = uploaded(r)
    assert (part.filename, part.content_type, part.content) == (
        "mem",
        "application/octet-stream",
        b"in memory",
    )
    assert_sized(r)


def test_tuple_forms(new_client: Any, server: Any, report: pathlib.Path) -> None:
    """api.md 4.4 row 4: (filename, content[, content_type[, headers]]); content bytes-like,
    str (UTF-8) or a file; the type given, else guessed from the filename; extra headers."""
    with open(report, "rb") as f:
        files = {
            "csv": ("table.csv", b"1,2\n"),
            "text": ("note.txt", "héllo"),
            "file": ("renamed.bin", f),
            "typed": ("pic", b"\x89PNG", "image/png"),
            "extra": ("x.txt", b"x", "text/x-custom", {"X-Part": "yes"}),
        }
        r = new_client().post(f"{server.url}/echo", files=files)
    csv, text, file, typed, extra = uploaded(r)
    assert (csv.name, csv.filename, csv.content_type, csv.content) == (
        "csv",
        "table.csv",
        "text/csv",
        b"1,2\n",
    )
    assert (text.filename, text.content_type, text.content) == (
        "note.txt",
        "text/plain",
        "héllo".encode(),
    )
    assert (file.filename, file.content) == ("renamed.bin", report.read_bytes())
    assert (typed.filename, typed.content_type, typed.content) == ("pic", "image/png", b"\x89PNG")
    assert (extra.content_type, extra.headers.get("x-part")) == ("text/x-custom", "yes")
    assert_sized(r)


def test_tuple_without_filename(new_client: Any, server: Any) -> None:
    """api.md 4.4 row 4: a None filename -> the part has no filename parameter."""
    r = new_client().post(f"{server.url}/echo", files={"f": (None, b"value", "text/plain")})
    [part] = uploaded(r)
    assert part.filename is None and "filename" not in part.headers["content-disposition"]
    assert (part.name, part.content_type, part.content) == ("f", "text/plain", b"value")


def test_sequence_of_pairs_repeats_a_field(new_client: Any, server: Any) -> None:
    """api.md 4.4: files may be a sequence of (field, value) pairs; a field may repeat,
    parts keep the given order."""
    files = [("f", ("1.txt", b"one")), ("g", b"g"), ("f", ("2.txt", b"two"))]
    r = new_client().post(f"{server.url}/echo", files=files)
    assert [(p.name, p.filename, p.content) for p in uploaded(r)] == [
        ("f", "1.txt", b"one"),
        ("g", "g", b"g"),
        ("f", "2.txt", b"two"),
    ]


def test_data_and_files_combine(new_client: Any, server: Any) -> None:
    """api.md 4.3: data + files -> one multipart body, data fields first as text parts
    (value rules as for params: lists repeat, bool -> "true")."""
    r = new_client().post(
        f"{server.url}/echo",
        data={"a": "1", "b": ["x", "y"], "c": True, "é": "ü"},
        files={"f": ("f.txt", b"file")},
    )
    parts = uploaded(r)
    assert [(p.name, p.content) for p in parts] == [
        ("a", b"1"), ("b", b"x"), ("b", b"y"), ("c", b"true"), ("é", "ü".encode()),
        ("f", b"file"),
    ]  # fmt: skip
    assert all(p.filename is None for p in parts[:-1])
    assert parts[-1].filename == "f.txt"
    assert_sized(r)


def test_files_with_put_and_patch(new_client: Any, server: Any) -> None:
    """api.md 4.3: bodies are sent for every method."""
    c = new_client()
    for method in ("PUT", "PATCH"):
        r = c.request(method, f"{server.url}/echo", files={"f": b"1"})
        assert echo(r)["method"] == method
        assert [p.content for p in uploaded(r)] == [b"1"]


def test_field_and_filename_escaping(new_client: Any, server: Any) -> None:
    """api.md 4.4 (as browsers and httpx do): '"', CR and LF in names are percent-escaped,
    so they cannot break the part head."""
    r = new_client().post(f"{server.url}/echo", files={'fi"eld': ('a"b\r\nc.txt', b"x")})
    [part] = uploaded(r)
    assert part.headers["content-disposition"] == (
        'form-data; name="fi%22eld"; filename="a%22b%0D%0Ac.txt"'
    )


def test_large_file_sized(new_client: Any, server: Any, tmp_path: pathlib.Path) -> None:
    """api.md 4.4: a path's size is known, so a 2 MiB upload still has Content-Length."""
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(2 * 1024 * 1024))
    r = new_client().post(f"{server.url}/echo", files={"big": path})
    [part] = uploaded(r)
    assert part.content == path.read_bytes()
    assert_sized(r)


class ReadOnly:
    """A stream with nothing but read(): its size cannot be known."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = len(self._data)
        out, self._data = self._data[:n], self._data[n:]
        return out


def test_unknown_size_is_chunked(new_client: Any, server: Any) -> None:
    """api.md 4.4: a part whose size is unknown makes the body chunked (HTTP/1.1), without
    Content-Length."""
    r = new_client().post(f"{server.url}/echo", files={"s": ("s.txt", ReadOnly(b"streamed"))})
    [part] = uploaded(r)
    assert part.content == b"streamed"
    assert framing(r) == {"Content-Length": [], "Transfer-Encoding": ["chunked"]}


# -- errors before I/O -------------------------------------------------------------------------


@pytest.fixture
def untouched(raw_server: Any) -> Any:
    """A raw server the request must never reach (connections_accepted stays 0)."""
    return raw_server(serve_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))


@pytest.mark.parametrize("where", ["request", "client"])
def test_user_content_type_with_files(new_client: Any, untouched: Any, where: str) -> None:
    """api.md 4.3: a user Content-Type with files -> ValueError (the boundary is httpr's),
    before I/O."""
    header = {"Content-Type": "multipart/form-data; boundary=mine"}
    c = new_client(headers=header) if where == "client" else new_client()
    kwargs = {"headers": header} if where == "request" else {}
    with pytest.raises(ValueError, match="(?i)content-type"):
        c.post(f"{untouched.url}/", files={"f": b"x"}, **kwargs)
    assert untouched.connections_accepted == 0


def test_missing_path_is_oserror_before_io(
    new_client: Any, untouched: Any, tmp_path: pathlib.Path
) -> None:
    """api.md 4.4, 14: a path that does not exist raises its OSError before I/O."""
    with pytest.raises(FileNotFoundError):
        new_client().post(f"{untouched.url}/", files={"f": str(tmp_path / "missing.txt")})
    assert untouched.connections_accepted == 0


@pytest.mark.parametrize(
    "value", [1, 1.5, None, ["a"], {"k": "v"}, ("only-one",), ("a", b"b", "t", {}, "extra")],
    ids=["int", "float", "none", "list", "dict", "1-tuple", "5-tuple"],
)  # fmt: skip
def test_bad_file_values_are_type_errors(new_client: Any, untouched: Any, value: Any) -> None:
    """api.md 4.4: other value types -> TypeError, before I/O."""
    with pytest.raises(TypeError):
        new_client().post(f"{untouched.url}/", files={"f": value})
    assert untouched.connections_accepted == 0


@pytest.mark.parametrize(("other", "value"), [("content", b"c"), ("json", {"a": 1})])
def test_files_with_another_body_is_value_error(
    new_client: Any, untouched: Any, other: str, value: Any
) -> None:
    """api.md 4.3: files combine only with data; with content or json -> ValueError naming
    both, before I/O."""
    with pytest.raises(ValueError, match=f"(?s)(files.*{other}|{other}.*files)"):
        new_client().post(f"{untouched.url}/", files={"f": b"x"}, **{other: value})
    assert untouched.connections_accepted == 0

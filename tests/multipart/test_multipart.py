"""multipart/form-data bodies (api.md 4.3, 4.4): every ``files`` form, the exact wire bytes,
sizes, escaping, validation before I/O, streaming in bounded memory, replay. No network."""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import io
import os
import pathlib
import re
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from httpr._exceptions import LocalProtocolError, StreamConsumed, StreamError
from httpr._multipart import DEFAULT_CHUNK_BYTES, MultipartBody, encode_multipart

BOUNDARY = "b0undary"
MIB = 1024 * 1024


class ReadOnly:
    """A stream with nothing but ``read()``: no name, no tell/seek, so its size is unknown."""

    def __init__(self, data: bytes, step: int | None = None) -> None:
        self._data = data
        self._step = step
        self.reads = 0

    def read(self, n: int = -1) -> bytes:
        self.reads += 1
        if self._step is not None:
            n = min(n, self._step)
        out, self._data = self._data[:n], self._data[n:]
        return out


def body_bytes(body: MultipartBody, chunk_size: int = DEFAULT_CHUNK_BYTES) -> bytes:
    return b"".join(body.iter_chunks(chunk_size))


def parse(body: MultipartBody, raw: bytes) -> list[tuple[str, str | None, str | None, bytes]]:
    """(name, filename, Content-Type or None, content) of each part, by the stdlib parser."""
    head = f"Content-Type: {body.content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    assert message.is_multipart()
    assert not message.defects
    out = []
    for part in message.iter_parts():
        assert not part.defects
        name = part.get_param("name", header="content-disposition")
        assert isinstance(name, str)
        content_type = part["Content-Type"]
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        out.append(
            (
                name,
                part.get_filename(),
                None if content_type is None else str(content_type),
                payload,
            )
        )
    return out


@pytest.fixture
def pipe() -> Iterator[tuple[io.BufferedReader, Any]]:
    """A pipe's read end as a binary file (not seekable) and its write end."""
    r, w = os.pipe()
    with os.fdopen(r, "rb") as reader, os.fdopen(w, "wb") as writer:
        yield reader, writer


# -- the wire format -------------------------------------------------------------------------


def test_exact_bytes_of_a_small_body() -> None:
    body = encode_multipart(
        {"a": "1", "b": ["x", 2]},
        {"f": ("x.txt", b"hi", "text/plain"), "g": b"\x00\xff"},
        boundary=BOUNDARY,
    )
    expected = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="a"\r\n'
        b"\r\n"
        b"1\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="b"\r\n'
        b"\r\n"
        b"x\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="b"\r\n'
        b"\r\n"
        b"2\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="f"; filename="x.txt"\r\n'
        b"Content-Type: text/plain\r\n"
        b"\r\n"
        b"hi\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="g"; filename="g"\r\n'
        b"Content-Type: application/octet-stream\r\n"
        b"\r\n"
        b"\x00\xff\r\n"
        b"--b0undary--\r\n"
    )
    assert body.content_type == "multipart/form-data; boundary=b0undary"
    assert body.read_all() == expected
    assert body_bytes(body) == expected
    assert body.content_length == len(expected)


def test_empty_body_is_only_the_closing_delimiter() -> None:
    body = encode_multipart(None, None, boundary=BOUNDARY)
    assert body.read_all() == b"--b0undary--\r\n"
    assert body.content_length == len(b"--b0undary--\r\n")
    assert encode_multipart({}, {}, boundary=BOUNDARY).read_all() == b"--b0undary--\r\n"


def test_random_boundary_is_32_hex_characters_and_fresh() -> None:
    first = encode_multipart(None, {"f": b"x"})
    second = encode_multipart(None, {"f": b"x"})
    match = re.fullmatch(r"multipart/form-data; boundary=([0-9a-f]{32})", first.content_type)
    assert match is not None
    assert first.content_type != second.content_type
    assert first.read_all().startswith(b"--" + match.group(1).encode() + b"\r\n")


def test_boundary_validation() -> None:
    with pytest.raises(ValueError, match="boundary"):
        encode_multipart(None, {"f": b"x"}, boundary="")
    with pytest.raises(ValueError, match="boundary"):
        encode_multipart(None, {"f": b"x"}, boundary="a\r\nb")
    with pytest.raises(ValueError, match="boundary"):
        encode_multipart(None, {"f": b"x"}, boundary="x" * 71)
    with pytest.raises(TypeError, match="boundary must be a str, not bytes"):
        encode_multipart(None, {"f": b"x"}, boundary=b"abc")  # type: ignore[arg-type]
    # RFC 2046 allows ':' and '=' in a boundary; they are not token characters, so quoted.
    body = encode_multipart(None, {"f": b"x"}, boundary="a:b=c")
    assert body.content_type == 'multipart/form-data; boundary="a:b=c"'
    assert parse(body, body.read_all()) == [("f", "f", "application/octet-stream", b"x")]


def test_email_parser_reads_back_the_same_parts(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(b'{"k": [1, 2]}')
    binary = bytes(range(256)) * 4
    body = encode_multipart(
        [("title", "héllo wörld"), ("n", 3)],
        [
            ("doc", str(path)),
            ("blob", binary),
            ("stream", ReadOnly(b"streamed bytes")),
            ("note", ("ünï.txt", "text ✓", None, {"X-Tag": "a b"})),
            ("raw", (None, b"no filename")),
        ],
    )
    raw = body_bytes(body)
    assert parse(body, raw) == [
        ("title", None, None, "héllo wörld".encode()),
        ("n", None, None, b"3"),
        ("doc", "report.json", "application/json", b'{"k": [1, 2]}'),
        ("blob", "blob", "application/octet-stream", binary),
        ("stream", "stream", "application/octet-stream", b"streamed bytes"),
        ("note", "ünï.txt", "text/plain", "text ✓".encode()),
        ("raw", None, None, b"no filename"),
    ]
    assert b'filename="\xc3\xbcn\xc3\xaf.txt"' in raw
    assert b"\r\nX-Tag: a b\r\n" in raw


# -- each value form -------------------------------------------------------------------------


def test_path_forms_use_basename_and_guessed_type(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"text")
    (tmp_path / "b.png").write_bytes(b"\x89PNG")
    (tmp_path / "c.unknownext").write_bytes(b"?")
    (tmp_path / "d.tar.gz").write_bytes(b"\x1f\x8b")
    body = encode_multipart(
        None,
        [
            ("s", str(tmp_path / "a.txt")),
            ("p", tmp_path / "b.png"),
            ("u", tmp_path / "c.unknownext"),
            ("z", tmp_path / "d.tar.gz"),
        ],
    )
    assert parse(body, body.read_all()) == [
        ("s", "a.txt", "text/plain", b"text"),
        ("p", "b.png", "image/png", b"\x89PNG"),
        ("u", "c.unknownext", "application/octet-stream", b"?"),
        # The content is the compressed file, not the tar inside it.
        ("z", "d.tar.gz", "application/gzip", b"\x1f\x8b"),
    ]


def test_path_content_is_read_when_sent_not_when_built(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "late.txt"
    path.write_bytes(b"before")
    body = encode_multipart(None, {"f": path}, boundary=BOUNDARY)
    path.write_bytes(b"after!")  # same size, new content
    assert b"\r\n\r\nafter!\r\n" in body.read_all()


@pytest.mark.parametrize("value", [b"abc", bytearray(b"abc"), memoryview(b"abc")])
def test_bytes_like_values(value: bytes | bytearray | memoryview) -> None:
    body = encode_multipart(None, {"up": value})
    assert parse(body, body.read_all()) == [("up", "up", "application/octet-stream", b"abc")]
    assert body.content_length == len(body.read_all())


def test_bytearray_is_snapshotted_at_construction() -> None:
    buf = bytearray(b"abc")
    body = encode_multipart(None, {"up": buf}, boundary=BOUNDARY)
    buf.extend(b"def")
    assert b"\r\n\r\nabc\r\n" in body.read_all()
    assert body.content_length == len(body.read_all())


def test_memoryview_of_non_bytes_is_sent_as_its_bytes() -> None:
    import array

    arr = array.array("H", [1, 2])
    body = encode_multipart(None, {"up": memoryview(arr)})
    assert parse(body, body.read_all())[0][3] == arr.tobytes()
    assert body.content_length == len(body.read_all())


def test_file_objects(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(b"0123456789")
    with open(path, "rb") as named:
        named.seek(4)  # read from the current position
        body = encode_multipart(None, [("named", named), ("anon", io.BytesIO(b"bytesio"))])
        assert parse(body, body_bytes(body)) == [
            ("named", "photo.png", "image/png", b"456789"),
            ("anon", "anon", "application/octet-stream", b"bytesio"),
        ]
        assert body.content_length == len(body_bytes(body))


def test_file_object_name_that_is_not_a_str_gives_the_field_name(
    pipe: tuple[io.BufferedReader, Any],
) -> None:
    reader, writer = pipe
    writer.write(b"piped")
    writer.close()
    assert isinstance(reader.name, int)
    body = encode_multipart(None, {"p.txt": reader})
    assert parse(body, body.read_all()) == [("p.txt", "p.txt", "text/plain", b"piped")]


def test_file_object_is_not_read_at_construction() -> None:
    stream = ReadOnly(b"data")
    body = encode_multipart(None, {"f": stream})
    assert stream.reads == 0
    assert parse(body, body.read_all())[0][3] == b"data"


def test_tuple_forms(tmp_path: pathlib.Path) -> None:
    with open(tmp_path / "ignored.bin", "wb+") as f:
        f.write(b"from file")
        f.seek(0)
        body = encode_multipart(
            None,
            [
                ("two", ("a.html", b"<p>")),
                ("three", ("a.html", b"<p>", "text/x-custom")),
                ("none_type", ("b.bin", b"?", None)),
                ("four", ("c.csv", "x,y", "text/csv; charset=utf-8", {"X-Id": "7"})),
                ("str", ("d.txt", "é")),
                ("file", ("given.txt", f)),
                ("nofile", (None, b"z")),
                ("nofile_typed", (None, b"z", "application/x-z")),
                ("unguessable", ("noext", b"q")),
                ("empty_name", ("", b"")),
            ],
            boundary=BOUNDARY,
        )
        raw = body.read_all()
    assert parse(body, raw) == [
        ("two", "a.html", "text/html", b"<p>"),
        ("three", "a.html", "text/x-custom", b"<p>"),
        ("none_type", "b.bin", "application/octet-stream", b"?"),
        ("four", "c.csv", 'text/csv; charset="utf-8"', b"x,y"),  # the parser's spelling
        ("str", "d.txt", "text/plain", "é".encode()),
        ("file", "given.txt", "text/plain", b"from file"),
        ("nofile", None, None, b"z"),
        ("nofile_typed", None, "application/x-z", b"z"),
        ("unguessable", "noext", "application/octet-stream", b"q"),
        ("empty_name", "", "application/octet-stream", b""),
    ]
    assert b'Content-Disposition: form-data; name="nofile"\r\n\r\nz\r\n' in raw, (
        "no filename parameter and no Content-Type"
    )
    assert b'name="four"; filename="c.csv"\r\nContent-Type: text/csv; charset=utf-8\r\n' in raw
    assert b"X-Id: 7\r\n\r\nx,y\r\n" in raw
    assert b'filename=""' in raw


def test_part_header_content_type_wins_over_the_tuple_item() -> None:
    body = encode_multipart(
        None, {"f": ("a.txt", b"x", "text/plain", {"content-type": "image/gif"})}
    )
    raw = body.read_all()
    assert raw.count(b"Content-Type") + raw.count(b"content-type") == 1
    assert parse(body, raw) == [("f", "a.txt", "image/gif", b"x")]


# -- escaping --------------------------------------------------------------------------------


def test_filenames_and_field_names_are_escaped_as_html_forms_do() -> None:
    body = encode_multipart(
        {'da"ta\r\n': "v"},
        [('fi"eld', ('a"b\rc\nd\0e.txt', b"x")), ("back", ("c:\\dir\\f.txt", b"y"))],
        boundary=BOUNDARY,
    )
    raw = body.read_all()
    assert b'Content-Disposition: form-data; name="da%22ta%0D%0A"\r\n' in raw
    assert b'name="fi%22eld"; filename="a%22b%0Dc%0Ad%00e.txt"\r\n' in raw
    # Browsers leave backslashes alone (WHATWG); so does httpr.
    assert b'filename="c:\\dir\\f.txt"\r\n' in raw
    # Every header line is intact: no raw CR, LF or NUL leaked into a header.
    heads = [block.split(b"\r\n\r\n", 1)[0] for block in raw.split(b"--b0undary\r\n")[1:]]
    for head in heads:
        for line in head.split(b"\r\n"):
            assert b"\r" not in line and b"\n" not in line and b"\0" not in line
            assert line.startswith((b"Content-Disposition: ", b"Content-Type: "))


# -- sizes -----------------------------------------------------------------------------------


def test_content_length_matches_the_produced_bytes(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(100_000))
    with open(path, "rb") as f:
        f.seek(123)
        body = encode_multipart(
            {"k": "välue"},
            [("p", path), ("b", b"x" * 70_000), ("f", f), ("t", ("t.txt", "ü" * 10))],
        )
        for chunk_size in (1, 7, 4096, DEFAULT_CHUNK_BYTES, 10 * MIB):
            assert body.content_length == len(body_bytes(body, chunk_size))


def test_content_length_is_none_for_a_pipe(pipe: tuple[io.BufferedReader, Any]) -> None:
    reader, writer = pipe
    writer.write(b"pipe data")
    writer.close()
    body = encode_multipart({"k": "v"}, {"a": b"sized", "p": reader})
    assert body.content_length is None
    assert body.is_replayable is False
    assert parse(body, body_bytes(body))[2] == ("p", "p", "application/octet-stream", b"pipe data")


def test_content_length_is_none_for_a_read_only_object() -> None:
    body = encode_multipart(None, {"r": ReadOnly(b"abc" * 10, step=1)})
    assert body.content_length is None
    assert body.is_replayable is False
    assert parse(body, body_bytes(body, 4))[0][3] == b"abc" * 10


def test_seekable_file_size_is_what_remains_after_the_position() -> None:
    f = io.BytesIO(b"0123456789")
    f.seek(3)
    body = encode_multipart(None, {"f": f}, boundary=BOUNDARY)
    empty = encode_multipart(None, {"f": b""}, boundary=BOUNDARY)
    assert body.content_length == (empty.content_length or 0) + 7
    f.seek(9)  # moved after construction: the body still starts where it was built
    assert b"\r\n\r\n3456789\r\n" in body.read_all()


def test_file_that_shrank_after_construction_raises(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "shrinks.bin"
    path.write_bytes(b"x" * 1000)
    body = encode_multipart(None, {"f": path})
    path.write_bytes(b"x" * 10)
    with pytest.raises(LocalProtocolError, match="990 bytes short"):
        body.read_all()


def test_file_that_grew_after_construction_is_cut_at_its_size(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "grows.bin"
    path.write_bytes(b"a" * 10)
    body = encode_multipart(None, {"f": path}, boundary=BOUNDARY)
    with open(path, "ab") as f:
        f.write(b"b" * 10)
    raw = body.read_all()
    assert len(raw) == body.content_length
    assert b"\r\n\r\n" + b"a" * 10 + b"\r\n--b0undary--\r\n" in raw


# -- validation before I/O -------------------------------------------------------------------


def test_missing_path_raises_at_construction(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError) as excinfo:
        encode_multipart(None, {"f": str(missing)})
    assert excinfo.value.filename == str(missing)
    with pytest.raises(FileNotFoundError):
        encode_multipart({"a": "b"}, [("ok", b"x"), ("f", missing)])


def test_directory_path_raises_at_construction(tmp_path: pathlib.Path) -> None:
    with pytest.raises(IsADirectoryError, match="directory"):
        encode_multipart(None, {"f": tmp_path})


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_path_raises_at_construction(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "secret.txt"
    path.write_bytes(b"x")
    path.chmod(0)
    try:
        with pytest.raises(PermissionError):
            encode_multipart(None, {"f": path})
    finally:
        path.chmod(0o600)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            "a=b",
            re.escape("files must be a mapping or a sequence of (field, value) pairs, not str"),
        ),
        (
            b"a=b",
            re.escape("files must be a mapping or a sequence of (field, value) pairs, not bytes"),
        ),
        (42, re.escape("files must be a mapping or a sequence of (field, value) pairs, not int")),
        ({"a", "b"}, "not set"),
        (["a"], re.escape("files pairs must be (field, value) tuples, not str")),
        ([("a", b"x", "c")], "not tuple of 3 items"),
        ({1: b"x"}, "field names must be str, not int"),
        ([(b"f", b"x")], "field names must be str, not bytes"),
        ({"f": 42}, "value of field 'f' must be .* not int"),
        ({"f": None}, "value of field 'f' must be .* not NoneType"),
        ({"f": {"a": "b"}}, "value of field 'f' must be .* not dict"),
        ({"f": ["a.txt", b"x"]}, "value of field 'f' must be .* not list"),
        ({"f": ("a.txt",)}, "tuple for field 'f' must be .* got 1 items"),
        ({"f": ("a", b"x", None, None, 5)}, "got 5 items"),
        ({"f": (b"a.txt", b"x")}, "filename of field 'f' must be a str or None, not bytes"),
        ({"f": ("a.txt", 5)}, "content of field 'f' must be .* not int"),
        ({"f": ("a.txt", pathlib.Path("x"))}, "content of field 'f' must be .* not PosixPath"),
        ({"f": ("a.txt", b"x", 5)}, "The value of header 'Content-Type' must be str, not int"),
        ({"f": ("a.txt", b"x", None, [("X", "y")])}, "headers of field 'f' must be a mapping"),
        ({"f": ("a.txt", b"x", None, {1: "y"})}, "Header names must be str"),
    ],
)
def test_wrong_types_raise_type_error(files: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        encode_multipart(None, files)


def test_text_mode_file_is_a_type_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("text")
    with open(path) as f, pytest.raises(TypeError, match="text mode"):
        encode_multipart(None, {"f": f})


def test_closed_file_is_a_value_error() -> None:
    f = io.BytesIO(b"x")
    f.close()
    with pytest.raises(ValueError, match="closed"):
        encode_multipart(None, {"f": f})


@pytest.mark.parametrize(
    "headers",
    [{"X-A": "a\r\nInjected: 1"}, {"X-A": "a\nb"}, {"X-A": "a\0b"}, {"Bad Name": "v"}],
)
def test_bad_part_headers_raise_value_error(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="header"):
        encode_multipart(None, {"f": ("a.txt", b"x", None, headers)})


@pytest.mark.parametrize("content_type", ["text/plain\r\nX: y", "text/plain\n", "a\0"])
def test_bad_content_type_raises_value_error(content_type: str) -> None:
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        encode_multipart(None, {"f": ("a.txt", b"x", content_type)})


def test_content_disposition_part_header_is_refused() -> None:
    with pytest.raises(ValueError, match="Content-Disposition"):
        encode_multipart(None, {"f": ("a.txt", b"x", None, {"content-disposition": "x"})})


def test_data_follows_the_params_value_rules() -> None:
    with pytest.raises(TypeError, match="data must be a mapping"):
        encode_multipart("a=b", {"f": b"x"})
    with pytest.raises(TypeError, match="data: value for 'k'"):
        encode_multipart({"k": b"bytes"}, {"f": b"x"})
    body = encode_multipart({"t": True, "f": False, "n": None, "x": 1.5}, None)
    assert parse(body, body.read_all()) == [
        ("t", None, None, b"true"),
        ("f", None, None, b"false"),
        ("n", None, None, b""),
        ("x", None, None, b"1.5"),
    ]


def test_chunk_size_validation() -> None:
    body = encode_multipart(None, {"f": b"x"})
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        body.iter_chunks(0)
    with pytest.raises(TypeError, match="chunk_size must be an int"):
        body.iter_chunks(1.5)  # type: ignore[arg-type]


def test_read_returning_text_or_none_fails_when_sent() -> None:
    class Texty:
        def read(self, n: int = -1) -> str:
            return "text"

    class NonBlocking:
        def read(self, n: int = -1) -> None:
            return None

    with pytest.raises(TypeError, match="must return bytes from read\\(\\), not str"):
        encode_multipart(None, {"f": Texty()}).read_all()
    with pytest.raises(TypeError, match="returned None"):
        encode_multipart(None, {"f": NonBlocking()}).read_all()


# -- ordering and repetition -----------------------------------------------------------------


def test_data_fields_come_before_files_in_their_order() -> None:
    body = encode_multipart(
        [("z", "1"), ("a", "2")], {"y": b"3", "b": ("b.txt", b"4")}, boundary=BOUNDARY
    )
    assert [part[0] for part in parse(body, body.read_all())] == ["z", "a", "y", "b"]


def test_repeated_fields() -> None:
    body = encode_multipart(
        {"tag": ["x", "y"]},
        [("up", ("1.txt", b"one")), ("up", ("2.txt", b"two")), ("up", b"three")],
    )
    assert parse(body, body.read_all()) == [
        ("tag", None, None, b"x"),
        ("tag", None, None, b"y"),
        ("up", "1.txt", "text/plain", b"one"),
        ("up", "2.txt", "text/plain", b"two"),
        ("up", "up", "application/octet-stream", b"three"),
    ]


# -- streaming -------------------------------------------------------------------------------


def test_big_file_is_streamed_in_bounded_chunks_and_memory(tmp_path: pathlib.Path) -> None:
    size = 5 * MIB
    path = tmp_path / "big.bin"
    block = os.urandom(MIB)
    with open(path, "wb") as f:
        for _ in range(size // MIB):
            f.write(block)
    expected = hashlib.sha256(block * (size // MIB)).hexdigest()
    del block
    body = encode_multipart({"k": "v"}, {"big": path}, boundary=BOUNDARY)
    assert body.content_length is not None and body.content_length > size

    digest = hashlib.sha256()
    total = count = 0
    tracemalloc.start()
    try:
        for chunk in body.iter_chunks():
            assert 0 < len(chunk) <= DEFAULT_CHUNK_BYTES
            total += len(chunk)
            count += 1
            digest.update(chunk)
            del chunk
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == body.content_length
    assert count >= size // DEFAULT_CHUNK_BYTES
    # A few chunks' worth, never the file: 5 MiB read whole would show here.
    assert peak < 8 * DEFAULT_CHUNK_BYTES, peak

    # The file's bytes arrive intact between the part head and the closing delimiter.
    raw = body.read_all()
    assert hashlib.sha256(raw).digest() == digest.digest()
    content = raw.split(b'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n')[1]
    assert content.endswith(b"\r\n--b0undary--\r\n")
    assert hashlib.sha256(content[: -len(b"\r\n--b0undary--\r\n")]).hexdigest() == expected


def test_small_pieces_are_joined_up_to_the_chunk_size() -> None:
    body = encode_multipart({f"k{i}": "v" for i in range(50)}, None)
    chunks = list(body.iter_chunks(1024))
    assert all(len(c) <= 1024 for c in chunks)
    assert len(chunks) == -(-len(body.read_all()) // 1024)


def test_iteration_is_lazy() -> None:
    stream = ReadOnly(b"x" * 100_000)
    chunks = encode_multipart(None, {"f": stream}).iter_chunks(1000)
    assert stream.reads == 0
    next(chunks)
    assert 0 < stream.reads < 5
    chunks.close()


# -- replay ----------------------------------------------------------------------------------


def test_replayable_body_replays_identical_bytes(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "p.txt"
    path.write_bytes(b"path content")
    with open(path, "rb") as f:
        f.seek(2)
        buffer = io.BytesIO(b"0123456789")
        buffer.seek(5)
        body = encode_multipart({"d": "v"}, [("p", path), ("f", f), ("b", buffer), ("x", b"x")])
        assert body.is_replayable is True
        first = body_bytes(body, 3)
        assert f.tell() == 2 + len(b"th content") and buffer.tell() == 10
        body.rewind()
        assert f.tell() == 2 and buffer.tell() == 5
        assert body_bytes(body) == first
        # Also without an explicit rewind: each file restarts where the body was built.
        assert body.read_all() == first
        assert len(first) == body.content_length


def test_rewind_after_a_partial_send() -> None:
    buffer = io.BytesIO(b"a" * 1000)
    body = encode_multipart(None, {"f": buffer})
    chunks = body.iter_chunks(100)
    partial = [next(chunks) for _ in range(3)]
    chunks.close()
    assert buffer.tell() > 0
    body.rewind()
    assert buffer.tell() == 0
    assert body.read_all().startswith(b"".join(partial))


def test_non_replayable_body_is_produced_once(pipe: tuple[io.BufferedReader, Any]) -> None:
    reader, writer = pipe
    writer.write(b"once")
    writer.close()
    body = encode_multipart(None, {"p": reader})
    assert body.is_replayable is False
    with pytest.raises(StreamError, match="cannot be rewound"):
        body.rewind()
    assert b"once" in body.read_all()
    with pytest.raises(StreamConsumed):
        body.read_all()


def test_tuple_with_a_read_only_stream_is_not_replayable() -> None:
    body = encode_multipart(None, {"f": ("a.txt", ReadOnly(b"abc"))})
    assert body.is_replayable is False
    assert body.content_length is None
    assert encode_multipart(None, {"f": ("a.txt", b"abc")}).is_replayable is True


def test_path_that_cannot_be_opened_raises_at_construction(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same check as the chmod test, for runs as root (who can read any file)."""
    import httpr._multipart as multipart

    path = tmp_path / "locked.txt"
    path.write_bytes(b"x")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(multipart, "open", refuse, raising=False)
    with pytest.raises(PermissionError):
        encode_multipart(None, {"f": path})


def test_fifo_path_is_not_opened_at_construction_and_is_streamed(tmp_path: pathlib.Path) -> None:
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    body = encode_multipart(None, {"f": fifo})  # opening a FIFO would block: it must not
    assert body.content_length is None
    assert body.is_replayable is False

    def feed() -> None:
        with open(fifo, "wb") as w:
            w.write(b"through a fifo")

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        assert parse(body, body.read_all()) == [
            ("f", "fifo", "application/octet-stream", b"through a fifo")
        ]
    finally:
        writer.join(timeout=5)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_fifo_raises_at_construction(tmp_path: pathlib.Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0)
    with pytest.raises(PermissionError, match="not readable"):
        encode_multipart(None, {"f": fifo})


def test_object_whose_tell_is_not_an_int_is_treated_as_unsized() -> None:
    class OddTell(ReadOnly):
        def tell(self) -> None:
            return None

        def seek(self, offset: int, whence: int = 0) -> None:
            return None

    body = encode_multipart(None, {"f": OddTell(b"odd")})
    assert body.content_length is None
    assert parse(body, body.read_all())[0][3] == b"odd"

"""The optional extras of Response: HTML helpers (httpr[html]) and CBOR (httpr[cbor])."""

from __future__ import annotations

import sys

import pytest

import httpr

HTML = '<h1>Title</h1><p>Hello <b>world</b> and <a href="http://x.invalid/">a link</a></p>'


def html_response() -> httpr.Response:
    return httpr.Response(200, headers={"Content-Type": "text/html"}, content=HTML)


def test_text_markdown_keeps_structure() -> None:
    md = html_response().text_markdown
    assert "# Title" in md and "**world**" in md and "[a link](http://x.invalid/)" in md


def test_text_plain_has_no_markup() -> None:
    plain = html_response().text_plain
    assert "Title" in plain and "Hello world and a link" in plain
    for mark in ("#", "**", "](", "http://x.invalid/"):
        assert mark not in plain


def test_text_rich_is_unwrapped_markdown() -> None:
    long = "<p>" + "word " * 60 + "</p>"
    rich = httpr.Response(200, content=long).text_rich
    assert rich.strip().count("\n") == 0  # not wrapped
    assert httpr.Response(200, content=long).text_markdown.strip().count("\n") >= 2  # width 100


def test_html_helpers_without_the_extra_name_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "html2text", None)  # import now raises ImportError
    with pytest.raises(ImportError, match=r"httpr\[html\]"):
        _ = html_response().text_markdown


def test_cbor_body_and_json_on_cbor_content_type() -> None:
    cbor2 = pytest.importorskip("cbor2")
    body = cbor2.dumps({"a": [1, 2], "b": "x"})
    r = httpr.Response(200, headers={"Content-Type": "application/cbor"}, content=body)
    assert r.cbor() == {"a": [1, 2], "b": "x"}
    assert r.json() == {"a": [1, 2], "b": "x"}  # as 0.7.8 does on application/cbor
    with pytest.raises(httpr.DecodingError):
        httpr.Response(200, content=b"\xa1").cbor()  # a map missing its entries


def test_cbor_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cbor2", None)
    with pytest.raises(ImportError, match=r"httpr\[cbor\]"):
        httpr.Response(200, content=b"\xa0").cbor()

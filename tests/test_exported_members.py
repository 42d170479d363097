"""The public surface: every public attribute is in __all__ and reports module httpr (style.md)."""

from __future__ import annotations

import types

import httpr

# api.md 1 fixes the order of __all__; names of later issues join as they land.
API_ORDER = """
Client AsyncClient request get head options delete post put patch stream
Response StreamingResponse AsyncStreamingResponse CaseInsensitiveHeaderMap
Request Timeout Timings RequestParams MockTransport CookieJar
HTTPError RequestError TransportError NetworkError TimeoutException ProtocolError StreamError
ConnectTimeout ReadTimeout WriteTimeout PoolTimeout
ConnectError ReadError WriteError CloseError
LocalProtocolError RemoteProtocolError
UnsupportedProtocol ProxyError TooManyRedirects HTTPStatusError DecodingError ResponseTooLarge
StreamConsumed ResponseNotRead RequestNotRead StreamClosed
ClientClosed ClientReopenedWarning InvalidURL CookieConflict
""".split()


def test_all_public_names_are_exported() -> None:
    public = {
        name
        for name, value in vars(httpr).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(httpr.__all__)


def test_all_follows_the_api_order() -> None:
    assert set(httpr.__all__) <= set(API_ORDER)
    assert httpr.__all__ == [name for name in API_ORDER if name in httpr.__all__]


def test_public_objects_report_module_httpr() -> None:
    for name in httpr.__all__:
        assert getattr(httpr, name).__module__ == "httpr", name


def test_version() -> None:
    from importlib.metadata import version

    assert httpr.__version__ == version("httpr")

"""The exception hierarchy of api.md section 14: shape, messages, attributes, pickling."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from httpr import _exceptions as exc
from httpr._models import Request, Response

# Every class and its direct bases, as drawn in api.md section 14.
TREE: dict[type[BaseException], tuple[type[BaseException], ...]] = {
    exc.HTTPError: (Exception,),
    exc.RequestError: (exc.HTTPError,),
    exc.TransportError: (exc.RequestError,),
    exc.NetworkError: (exc.TransportError,),
    exc.ConnectError: (exc.NetworkError,),
    exc.ReadError: (exc.NetworkError,),
    exc.WriteError: (exc.NetworkError,),
    exc.CloseError: (exc.NetworkError,),
    exc.TimeoutException: (exc.TransportError,),
    exc.ConnectTimeout: (exc.TimeoutException,),
    exc.ReadTimeout: (exc.TimeoutException,),
    exc.WriteTimeout: (exc.TimeoutException,),
    exc.PoolTimeout: (exc.TimeoutException,),
    exc.ProtocolError: (exc.TransportError,),
    exc.LocalProtocolError: (exc.ProtocolError,),
    exc.RemoteProtocolError: (exc.ProtocolError,),
    exc.UnsupportedProtocol: (exc.TransportError,),
    exc.ProxyError: (exc.TransportError,),
    exc.TooManyRedirects: (exc.RequestError,),
    exc.DecodingError: (exc.RequestError,),
    exc.ResponseTooLarge: (exc.RequestError,),
    exc.HTTPStatusError: (exc.HTTPError,),
    exc.InvalidURL: (exc.HTTPError, ValueError),
    exc.CookieConflict: (Exception,),
    exc.StreamError: (RuntimeError,),
    exc.StreamConsumed: (exc.StreamError,),
    exc.ResponseNotRead: (exc.StreamError,),
    exc.RequestNotRead: (exc.StreamError,),
    exc.StreamClosed: (exc.StreamError,),
    exc.ClientClosed: (RuntimeError,),
    exc.ClientReopenedWarning: (ResourceWarning,),
}

# api.md section 1: the exception names of httpr.__all__.
API_NAMES = {
    "HTTPError", "RequestError", "TransportError", "NetworkError", "TimeoutException",
    "ProtocolError", "StreamError", "ConnectTimeout", "ReadTimeout", "WriteTimeout",
    "PoolTimeout", "ConnectError", "ReadError", "WriteError", "CloseError",
    "LocalProtocolError", "RemoteProtocolError", "UnsupportedProtocol", "ProxyError",
    "TooManyRedirects", "HTTPStatusError", "DecodingError", "ResponseTooLarge",
    "StreamConsumed", "ResponseNotRead", "RequestNotRead", "StreamClosed", "ClientClosed",
    "ClientReopenedWarning", "InvalidURL", "CookieConflict",
}  # fmt: skip

REQUEST_ERRORS = [cls for cls in TREE if issubclass(cls, exc.RequestError)]
STREAM_ERRORS = [exc.StreamConsumed, exc.ResponseNotRead, exc.RequestNotRead, exc.StreamClosed]


def _request() -> Request:
    return Request("GET", "http://127.0.0.1:8000/x", {"Accept": "*/*"}, b"body")


def test_module_defines_exactly_the_api_names() -> None:
    assert set(exc.__all__) == API_NAMES
    assert set(TREE) == {getattr(exc, name) for name in API_NAMES}


@pytest.mark.parametrize("cls", list(TREE), ids=lambda c: c.__name__)
def test_direct_bases_match_the_tree(cls: type[BaseException]) -> None:
    assert cls.__bases__ == TREE[cls]


def test_notable_relations() -> None:
    assert issubclass(exc.InvalidURL, ValueError)
    assert not issubclass(exc.InvalidURL, exc.RequestError)
    assert not issubclass(exc.HTTPStatusError, exc.RequestError)
    assert issubclass(exc.ConnectTimeout, exc.TransportError)
    assert not issubclass(exc.ConnectTimeout, exc.NetworkError)
    assert not issubclass(exc.ConnectError, exc.TimeoutException)
    assert not issubclass(exc.ProxyError, exc.NetworkError)
    assert not issubclass(exc.CookieConflict, exc.HTTPError)
    assert not issubclass(exc.StreamError, exc.HTTPError)
    assert not issubclass(exc.ClientClosed, exc.StreamError)
    assert issubclass(exc.ClientClosed, RuntimeError)
    assert issubclass(exc.ClientReopenedWarning, ResourceWarning)


def test_invalid_url_caught_as_value_error() -> None:
    with pytest.raises(ValueError, match="no host"):
        raise exc.InvalidURL("Invalid URL 'http://': no host")


@pytest.mark.parametrize("cls", REQUEST_ERRORS, ids=lambda c: c.__name__)
def test_request_errors_message_and_request(cls: type[exc.RequestError]) -> None:
    bare = cls("refused for GET http://h/")
    assert str(bare) == "refused for GET http://h/"
    assert bare.args == ("refused for GET http://h/",)
    assert bare.request is None
    request = _request()
    with_request = cls("boom", request=request)
    assert with_request.request is request
    # The transport attaches the request after building the exception from the error table.
    bare.request = request
    assert bare.request is request


def test_request_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        exc.ConnectError("boom", _request())  # type: ignore[call-arg]


def test_http_status_error_attributes() -> None:
    response = Response(404)
    request = _request()
    error = exc.HTTPStatusError("Client error", request=request, response=response)
    assert str(error) == "Client error"
    assert error.request is request
    assert error.response is response
    with pytest.raises(TypeError):
        exc.HTTPStatusError("missing response", request=request)  # type: ignore[call-arg]


def test_invalid_url_accepts_a_request() -> None:
    assert exc.InvalidURL("bad").request is None
    request = _request()
    assert exc.InvalidURL("bad", request=request).request is request


@pytest.mark.parametrize("cls", STREAM_ERRORS, ids=lambda c: c.__name__)
def test_stream_errors_have_default_messages(cls: Any) -> None:
    default = cls()
    assert len(str(default)) > 20
    assert str(cls("custom")) == "custom"


def test_default_messages_name_the_problem() -> None:
    assert "consumed" in str(exc.StreamConsumed())
    assert "read()" in str(exc.ResponseNotRead())
    assert "streamed" in str(exc.RequestNotRead())
    assert "closed" in str(exc.StreamClosed())
    assert str(exc.ClientClosed()) == "Cannot send a request, as the client has been closed."


def _instances() -> list[BaseException]:
    request = _request()
    response = Response(500, headers={"X": "1"}, content=b"oops")
    response._request = request
    made: list[BaseException] = []
    for cls in TREE:
        if cls is exc.HTTPStatusError:
            made.append(exc.HTTPStatusError("Server error", request=request, response=response))
        elif issubclass(cls, (exc.RequestError, exc.InvalidURL)):
            made.append(cls("failed for GET http://127.0.0.1:8000/x", request=request))
        elif cls in STREAM_ERRORS or cls is exc.ClientClosed:
            made.append(cls())
        else:
            made.append(cls("message"))
    return made


@pytest.mark.parametrize("error", _instances(), ids=lambda e: type(e).__name__)
def test_every_class_pickles(error: BaseException) -> None:
    restored: Any = pickle.loads(pickle.dumps(error))
    assert str(restored) == str(error)
    assert restored.args == error.args
    request = getattr(error, "request", None)
    if request is not None:
        assert isinstance(restored.request, Request)
        assert restored.request.method == request.method
        assert restored.request.url == request.url
        assert restored.request.headers == request.headers
        assert restored.request.content == request.content
    if isinstance(error, exc.HTTPStatusError):
        assert restored.response.status_code == 500
        assert restored.response.content == b"oops"
        assert restored.response.headers == {"x": "1"}
        assert restored.response.request.url == "http://127.0.0.1:8000/x"
    # Last: mypy narrows the Any to BaseException after this check.
    assert type(restored) is type(error)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickling_with_every_protocol(protocol: int) -> None:
    error = exc.ReadTimeout("timed out", request=_request())
    restored = pickle.loads(pickle.dumps(error, protocol=protocol))
    assert isinstance(restored, exc.ReadTimeout)
    assert restored.request is not None and restored.request.url == "http://127.0.0.1:8000/x"


def test_pickling_keeps_extra_state() -> None:
    error = exc.ConnectError("refused")
    # add_note() (3.11+) stores notes in __dict__ as __notes__.
    setattr(error, "__notes__", ["while probing"])  # noqa: B010
    error.custom = 1  # type: ignore[attr-defined]
    restored = pickle.loads(pickle.dumps(error))
    assert restored.__notes__ == ["while probing"]
    assert restored.custom == 1


def test_copy_and_deepcopy() -> None:
    request = _request()
    error = exc.ProxyError("no tunnel", request=request)
    assert copy.copy(error).request is request
    deep = copy.deepcopy(error)
    assert str(deep) == "no tunnel" and deep.request is not request
    assert deep.request is not None and deep.request.url == request.url


def test_error_table_construction_form() -> None:
    # httpr/_curl/errors.py builds every row's class with one positional message.
    for cls in [*REQUEST_ERRORS, exc.InvalidURL]:
        error = cls("cause for GET http://h/")
        assert isinstance(error, exc.HTTPError)
        assert str(error) == "cause for GET http://h/"


def test_client_reopened_warning_is_a_warning_category() -> None:
    with pytest.warns(exc.ClientReopenedWarning):
        import warnings

        warnings.warn("reopened", exc.ClientReopenedWarning, stacklevel=1)

"""Proxy URLs and the per-request proxy choice (api.md 2 and 12, amendment 3.6, SEC-12), no I/O.

Environments are plain dicts handed to ``ProxyConfig.from_settings(environ=...)``, so these
tests never touch ``os.environ`` (the autouse ``clean_environ`` fixture clears it anyway).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import httpr
from httpr._proxies import Proxy, ProxyConfig, parse_proxy
from httpr._urls import parse_url

P = "http://127.0.0.1:3128"  # a proxy for the precedence tests
Q = "http://127.0.0.1:3129"  # another one
R = "http://127.0.0.1:3130"  # and a third

# A fuzz-sized budget: these run in the default suite.
FAST = settings(max_examples=300, deadline=None, database=None)


def config(environ: Mapping[str, str], explicit: str | None = None) -> ProxyConfig:
    return ProxyConfig.from_settings(explicit, trust_env=True, environ=environ)


def chosen(cfg: ProxyConfig, url: str) -> str | None:
    """The ``CURLOPT_PROXY`` value the config picks for `url` (``None``: direct)."""
    u = parse_url(url)
    _, host, port = u.origin
    proxy = cfg.for_url(u.scheme, host, port)
    return None if proxy is None else proxy.url


# -- parse_proxy -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:3128", Proxy("http", "127.0.0.1", 3128)),
        ("HTTP://Proxy.Example.INVALID:8080", Proxy("http", "proxy.example.invalid", 8080)),
        ("http://proxy.invalid", Proxy("http", "proxy.invalid", 80)),
        ("http://proxy.invalid:3128/", Proxy("http", "proxy.invalid", 3128)),
        ("https://proxy.invalid", Proxy("https", "proxy.invalid", 443)),
        ("socks4://127.0.0.1", Proxy("socks4", "127.0.0.1", 1080)),
        ("socks4a://proxy.invalid:9050", Proxy("socks4a", "proxy.invalid", 9050)),
        ("socks5://[::1]", Proxy("socks5", "[::1]", 1080)),
        ("SOCKS5H://[::1]:9050", Proxy("socks5h", "[::1]", 9050)),
        # amendment 3.6: no scheme means http://
        ("127.0.0.1:3128", Proxy("http", "127.0.0.1", 3128)),
        ("proxy.invalid", Proxy("http", "proxy.invalid", 80)),
        ("//proxy.invalid:81", Proxy("http", "proxy.invalid", 81)),
        ("user:pw@proxy.invalid:8080", Proxy("http", "proxy.invalid", 8080, "user", "pw")),
        ("http://faß.invalid:1", Proxy("http", "xn--fa-hia.invalid", 1)),
        ("http://my_proxy.invalid:1", Proxy("http", "my_proxy.invalid", 1)),
        ("http://[FE80::1%25eth0]:1", Proxy("http", "[fe80::1%25eth0]", 1)),
        # credentials are percent-decoded; the last '@' ends them
        ("http://us%40er:p%3As%2Fs@h.invalid:1", Proxy("http", "h.invalid", 1, "us@er", "p:s/s")),
        ("http://user:p@ss@h.invalid:1", Proxy("http", "h.invalid", 1, "user", "p@ss")),
        ("http://user@h.invalid:1", Proxy("http", "h.invalid", 1, "user", None)),
        ("http://:pw@h.invalid:1", Proxy("http", "h.invalid", 1, "", "pw")),
        ("http://%C3%BC:%E2%82%AC@h.invalid:1", Proxy("http", "h.invalid", 1, "ü", "€")),
    ],
)
def test_parse_valid(value: str, expected: Proxy) -> None:
    assert parse_proxy(value, origin="proxy") == expected


@pytest.mark.parametrize(
    ("value", "url", "userpwd"),
    [
        ("http://127.0.0.1:3128", "http://127.0.0.1:3128", None),
        ("socks5h://u:p%40w@[::1]", "socks5h://[::1]:1080", "u:p@w"),
        ("https://user@h.invalid", "https://h.invalid:443", "user:"),
        ("http://:pw@h.invalid", "http://h.invalid:80", ":pw"),
        ("http://@h.invalid", "http://h.invalid:80", None),
        ("http://a:@h.invalid", "http://h.invalid:80", "a:"),
    ],
)
def test_url_and_userpwd_for_libcurl(value: str, url: str, userpwd: str | None) -> None:
    proxy = parse_proxy(value, origin="proxy")
    assert proxy.url == url  # CURLOPT_PROXY: never credentials, always a port
    assert proxy.userpwd == userpwd  # CURLOPT_PROXYUSERPWD


@pytest.mark.parametrize("value", [None, b"http://h.invalid", 3128, ("h", 1)])
def test_parse_rejects_non_str(value: object) -> None:
    with pytest.raises(TypeError, match="^proxy must be a str"):
        parse_proxy(value, origin="proxy")


@pytest.mark.parametrize(
    "value",
    ["ftp://h.invalid", "socks://h.invalid", "socks6://h.invalid", "file:///etc/passwd",
     "gopher://h.invalid:70", "ws://h.invalid"],
)  # fmt: skip
def test_parse_unsupported_scheme(value: str) -> None:
    with pytest.raises(httpr.UnsupportedProtocol, match="^HTTPS_PROXY: unsupported proxy scheme"):
        parse_proxy(value, origin="HTTPS_PROXY")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "http://",
        "http:///",
        "http://:8080",
        "user:pw@",
        "http://h.invalid:",
        "http://h.invalid:abc",
        "http://h.invalid:0",
        "http://h.invalid:65536",
        "http://h.invalid:1:2",
        "http://h.invalid:٣",  # a non-ASCII digit
        "http://exa mple.invalid",
        " http://h.invalid",
        "http://h.invalid:1 ",
        "http://h.invalid\r\n",
        "http://h.invalid\x00",
        "http://h.invalid/path",
        "http://h.invalid/?x",
        "http://h.invalid?x",
        "http://h.invalid#frag",
        "http://h.invalid/x@other.invalid",  # the host is h.invalid, with a path: refused
        "http://[::1",
        "http://[::1]x",
        "http://[zz::1]:1",
        "http://[1:2:3:4:5:6:7:8:9]",
        "http://h%2Fx.invalid",
        "http://a\\b.invalid",
        "http://xn--.invalid\u0080",
        "http://u%3Ax:pw@h.invalid",  # a ':' in the user name would split PROXYUSERPWD wrongly
        "http://u:p%0D%0Aw@h.invalid",
        "http://u:p%00w@h.invalid",
        "http://u:%FF@h.invalid",
        "socks5://" + "a" * 256 + ":pw@h.invalid",
        "socks5h://u:" + "a" * 256 + "@h.invalid",
        "1http://h.invalid",
        "ht tp://h.invalid",
        "://h.invalid",
        "http://" + "a" * 70_000,
    ],
)
def test_parse_invalid(value: str) -> None:
    with pytest.raises(httpr.InvalidURL, match="^ALL_PROXY: invalid proxy URL"):
        parse_proxy(value, origin="ALL_PROXY")


def test_long_socks4_and_http_credentials_are_allowed() -> None:
    # RFC 1929's 255-byte limit is SOCKS5's; http proxies take any length.
    assert parse_proxy("http://u:" + "a" * 300 + "@h.invalid", origin="proxy").password


def test_invalid_url_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_proxy("http://h.invalid:x", origin="proxy")


@pytest.mark.parametrize(
    "value",
    [
        "http://user:s3cretpw@h.invalid:abc",
        "user:s3cretpw@h.invalid:abc",
        "http://user:s3cretpw@h.invalid/path",
        "http://user:s3c/retpw@h.invalid",  # an unencoded '/' in the password
        "http://user:s3c#retpw@h.invalid",
        "http://user:s3cretpw@exa mple.invalid",
        "http://user:s3cretpw\r\n@h.invalid",
        "http://u%3Ax:s3cretpw@h.invalid",
        "ftp://user:s3cretpw@h.invalid",
        "u:s3c://retpw@h.invalid",  # "://" inside the password, no scheme
        "socks5://user:s3cretpw" + "x" * 300 + "@h.invalid",
    ],
)
def test_messages_never_hold_the_password(value: str) -> None:
    with pytest.raises((httpr.InvalidURL, httpr.UnsupportedProtocol)) as info:
        parse_proxy(value, origin="https_proxy")
    message = str(info.value)
    assert message.startswith("https_proxy: ")
    for fragment in ("s3cret", "retpw", "s3c"):
        assert fragment not in message
    assert "[secure]" in message


def test_repr_masks_the_password() -> None:
    proxy = parse_proxy("socks5://alice:s3cretpw@127.0.0.1:1080", origin="proxy")
    assert repr(proxy) == "Proxy('socks5://alice:[secure]@127.0.0.1:1080')"
    assert proxy.masked_url == "socks5://alice:[secure]@127.0.0.1:1080"
    assert "s3cret" not in repr(proxy) and "s3cret" not in str(proxy)
    assert repr(parse_proxy("http://bob@h.invalid", origin="proxy")) == (
        "Proxy('http://bob@h.invalid:80')"
    )
    assert repr(parse_proxy("http://h.invalid", origin="proxy")) == "Proxy('http://h.invalid:80')"


def test_proxy_is_frozen_and_hashable() -> None:
    proxy = parse_proxy(P, origin="proxy")
    with pytest.raises(AttributeError):
        proxy.port = 1  # type: ignore[misc]
    assert {proxy, parse_proxy(P + "/", origin="proxy")} == {proxy}


# -- precedence (api.md 12) --------------------------------------------------------------------


def test_nothing_set_means_direct() -> None:
    cfg = config({})
    assert cfg.for_url("http", "h.invalid", 80) is None
    assert cfg.for_url("https", "h.invalid", 443) is None
    assert cfg.display is None
    assert not cfg.any_proxy


def test_explicit_proxy_wins_for_every_request() -> None:
    env = {"HTTPR_PROXY": Q, "http_proxy": R, "https_proxy": R, "all_proxy": R, "NO_PROXY": "*"}
    cfg = config(env, explicit=P)
    assert chosen(cfg, "http://h.invalid/") == P
    assert chosen(cfg, "https://h.invalid/") == P
    assert chosen(cfg, "http://127.0.0.1:8080/") == P  # NO_PROXY does not apply
    assert cfg.display == P
    assert cfg.any_proxy


def test_httpr_proxy_wins_over_standard_variables_and_no_proxy() -> None:
    env = {"HTTPR_PROXY": Q, "http_proxy": R, "HTTPS_PROXY": R, "no_proxy": "*"}
    cfg = config(env)
    assert chosen(cfg, "http://h.invalid/") == Q
    assert chosen(cfg, "https://localhost/") == Q
    assert cfg.display == Q


def test_standard_variables_per_scheme() -> None:
    cfg = config({"http_proxy": P, "https_proxy": Q})
    assert chosen(cfg, "http://h.invalid/") == P
    assert chosen(cfg, "https://h.invalid/") == Q
    assert cfg.display is None  # standard variables never show in client.proxy


def test_https_proxy_is_not_used_for_http_targets() -> None:
    cfg = config({"HTTPS_PROXY": Q})  # SEC-12: "HTTPS_PROXY with an http URL"
    assert chosen(cfg, "http://h.invalid/") is None
    assert chosen(cfg, "https://h.invalid/") == Q


def test_http_proxy_is_not_used_for_https_targets() -> None:
    cfg = config({"http_proxy": P})
    assert chosen(cfg, "https://h.invalid/") is None
    assert chosen(cfg, "http://h.invalid/") == P


@pytest.mark.parametrize("name", ["all_proxy", "ALL_PROXY"])
def test_all_proxy_is_the_fallback(name: str) -> None:
    cfg = config({name: R, "https_proxy": Q})
    assert chosen(cfg, "http://h.invalid/") == R
    assert chosen(cfg, "https://h.invalid/") == Q


@pytest.mark.parametrize(
    ("lower", "upper"),
    [("http_proxy", "HTTP_PROXY"), ("https_proxy", "HTTPS_PROXY"), ("all_proxy", "ALL_PROXY")],
)
def test_lowercase_wins_over_uppercase(lower: str, upper: str) -> None:
    scheme = "https" if lower.startswith("https") else "http"
    assert chosen(config({lower: P, upper: Q}), f"{scheme}://h.invalid/") == P
    assert chosen(config({upper: Q}), f"{scheme}://h.invalid/") == Q
    # An empty variable counts as unset (as curl's curl_getenv does).
    assert chosen(config({lower: "", upper: Q}), f"{scheme}://h.invalid/") == Q
    assert chosen(config({lower: P, upper: ""}), f"{scheme}://h.invalid/") == P


def test_lowercase_no_proxy_wins() -> None:
    env = {"http_proxy": P, "no_proxy": "a.invalid", "NO_PROXY": "b.invalid"}
    assert chosen(config(env), "http://a.invalid/") is None
    assert chosen(config(env), "http://b.invalid/") == P
    env = {"http_proxy": P, "NO_PROXY": "b.invalid"}
    assert chosen(config(env), "http://b.invalid/") is None


def test_uppercase_value_is_not_read_when_lowercase_wins() -> None:
    cfg = config({"http_proxy": P, "HTTP_PROXY": "http://bad host"})
    assert chosen(cfg, "http://h.invalid/") == P


def test_httpoxy_uppercase_http_proxy_ignored_under_cgi() -> None:
    # CVE-2016-5385: a CGI request's "Proxy:" header becomes HTTP_PROXY.
    cgi = {"REQUEST_METHOD": "GET", "HTTP_PROXY": P}
    assert chosen(config(cgi), "http://h.invalid/") is None
    assert chosen(config({"HTTP_PROXY": P}), "http://h.invalid/") == P
    # Even a present but empty REQUEST_METHOD counts as CGI.
    assert chosen(config({"REQUEST_METHOD": "", "HTTP_PROXY": P}), "http://h.invalid/") is None


def test_httpoxy_keeps_the_other_variables() -> None:
    env = {"REQUEST_METHOD": "POST", "HTTP_PROXY": P, "HTTPS_PROXY": Q, "ALL_PROXY": R}
    cfg = config(env)
    assert chosen(cfg, "http://h.invalid/") == R  # HTTP_PROXY skipped, all_proxy applies
    assert chosen(cfg, "https://h.invalid/") == Q
    assert chosen(config({"REQUEST_METHOD": "GET", "http_proxy": P}), "http://h.invalid/") == P


def test_httpoxy_bad_value_is_not_even_read() -> None:
    # An attacker-controlled header must not make the program fail either.
    cfg = config({"REQUEST_METHOD": "GET", "HTTP_PROXY": "http://bad host:x"})
    assert chosen(cfg, "http://h.invalid/") is None


def test_variable_without_scheme_gets_http() -> None:
    cfg = config({"https_proxy": "127.0.0.1:3128", "HTTPR_PROXY": ""})
    proxy = cfg.for_url("https", "h.invalid", 443)
    assert proxy == Proxy("http", "127.0.0.1", 3128)


def test_trust_env_false_reads_nothing() -> None:
    class Untouchable(Mapping[str, str]):
        def __getitem__(self, key: str) -> str:
            raise AssertionError(f"read {key!r}")

        def __iter__(self) -> Iterator[str]:
            raise AssertionError("iterated")

        def __len__(self) -> int:
            raise AssertionError("len()")

        def __contains__(self, key: object) -> bool:
            raise AssertionError(f"looked for {key!r}")

    cfg = ProxyConfig.from_settings(None, trust_env=False, environ=Untouchable())
    assert cfg.for_url("http", "h.invalid", 80) is None and cfg.display is None
    cfg = ProxyConfig.from_settings(P, trust_env=False, environ=Untouchable())
    assert chosen(cfg, "https://h.invalid/") == P


def test_trust_env_false_ignores_the_real_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPR_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://bad host")
    cfg = ProxyConfig.from_settings(None, trust_env=False)
    assert cfg.for_url("http", "h.invalid", 80) is None


def test_default_environ_is_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", Q)
    cfg = ProxyConfig.from_settings(None, trust_env=True)
    assert chosen(cfg, "https://h.invalid/") == Q


class Recording(dict[str, str]):
    """An environment that remembers which names were looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: list[str] = []

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self.read.append(key)
        return super().get(key, default)


def test_variables_are_read_once_at_construction() -> None:
    env = Recording({"http_proxy": P, "no_proxy": "a.invalid"})
    cfg = config(env)
    read = list(env.read)
    assert set(read) >= {"HTTPR_PROXY", "http_proxy", "no_proxy"}
    env["http_proxy"] = Q  # later changes are not seen
    for _ in range(3):
        assert chosen(cfg, "http://h.invalid/") == P
        assert chosen(cfg, "http://a.invalid/") is None
    assert env.read == read


def test_httpr_proxy_set_means_standard_variables_are_not_read() -> None:
    env = Recording({"HTTPR_PROXY": P, "http_proxy": "bad host"})
    config(env)
    assert env.read == ["HTTPR_PROXY"]


def test_no_proxy_is_not_read_without_a_standard_proxy() -> None:
    env = Recording({"NO_PROXY": "<local>"})  # a bad value, but nothing would use it
    config(env)
    assert "NO_PROXY" not in env.read and "no_proxy" not in env.read


# -- bad values raise at construction, naming the variable (amendment 3.6) --------------------


@pytest.mark.parametrize(
    "name",
    ["HTTPR_PROXY", "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
     "ALL_PROXY"],
)  # fmt: skip
def test_bad_proxy_variable_raises_naming_it(name: str) -> None:
    with pytest.raises(httpr.InvalidURL, match=f"^{name}: invalid proxy URL"):
        config({name: "http://u:s3cretpw@h.invalid:port"})
    with pytest.raises(httpr.UnsupportedProtocol, match=f"^{name}: unsupported proxy scheme"):
        config({name: "ftp://h.invalid"})
    try:
        config({name: "http://u:s3cretpw@h.invalid/x"})
    except httpr.InvalidURL as exc:
        assert "s3cret" not in str(exc)
    else:
        raise AssertionError("no InvalidURL")


def test_bad_environment_raises_even_with_an_explicit_proxy() -> None:
    # client.proxy = None falls back to the environment, so it is validated up front.
    with pytest.raises(httpr.InvalidURL, match="^HTTPR_PROXY: "):
        config({"HTTPR_PROXY": "http://h.invalid:x"}, explicit=P)
    with pytest.raises(httpr.InvalidURL, match="^https_proxy: "):
        config({"https_proxy": "http://h.invalid:x"}, explicit=P)


@pytest.mark.parametrize(
    "value",
    [
        "example.com:abc",
        "example.com:0",
        "example.com:65536",
        "example.com:",
        "10.0.0.0/33",
        "10.0.0.0/x",
        "1.2.3.4/",
        "fe80::/129",
        "::g",
        "[::1",
        "[::1]x",
        "[127.0.0.1]",
        "[::1]:http",
        "exa%mple.com",
        "a..b.invalid",
        ".",
        "*.",
        "*example.com",
        "<local>",
        "http://example.com",
        "ex\x00ample.com",
    ],
)
@pytest.mark.parametrize("name", ["NO_PROXY", "no_proxy"])
def test_bad_no_proxy_raises_naming_it(name: str, value: str) -> None:
    with pytest.raises(httpr.InvalidURL, match=f"^{name}: invalid entry"):
        config({"http_proxy": P, name: f"ok.invalid, {value}"})


def test_bad_explicit_proxy_names_the_parameter() -> None:
    with pytest.raises(httpr.InvalidURL, match="^proxy: invalid proxy URL"):
        ProxyConfig.from_settings("http://h.invalid:x", trust_env=False)
    with pytest.raises(httpr.UnsupportedProtocol, match="^proxy: "):
        ProxyConfig.from_settings("ftp://h.invalid", trust_env=False)
    with pytest.raises(TypeError, match="^proxy must be a str"):
        ProxyConfig.from_settings(1, trust_env=False)  # type: ignore[arg-type]


# -- NO_PROXY forms ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("no_proxy", "url", "bypass"),
    [
        ("*", "http://anything.invalid/", True),
        ("*", "https://[::1]:8443/", True),
        ("a.invalid,*", "http://other.invalid/", True),
        # host names: the host and its subdomains, leading dot optional
        ("example.com", "http://example.com/", True),
        ("example.com", "http://www.example.com/", True),
        ("example.com", "http://a.b.example.com/", True),
        ("example.com", "http://badexample.com/", False),
        ("example.com", "http://example.com.evil.invalid/", False),
        ("example.com", "http://example.co/", False),
        ("example.com", "http://com/", False),
        (".example.com", "http://example.com/", True),
        (".example.com", "http://www.example.com/", True),
        (".example.com", "http://badexample.com/", False),
        ("*.example.com", "http://www.example.com/", True),
        ("*.example.com", "http://example.com/", True),
        ("www.example.com", "http://example.com/", False),
        ("localhost", "http://localhost:8080/", True),
        ("localhost", "http://127.0.0.1/", False),  # names are never resolved
        ("my_host", "http://my_host/", True),
        # case-insensitive, trailing dots ignored
        ("EXAMPLE.Com", "http://example.com/", True),
        ("example.com", "http://EXAMPLE.COM/", True),
        ("example.com.", "http://www.example.com/", True),
        ("example.com", "http://example.com./", True),
        # IDNA entries match the encoded host
        ("bücher.de", "http://xn--bcher-kva.de/", True),
        ("BÜCHER.de", "http://www.bücher.de/", True),
        # whitespace and empty entries
        (" a.invalid , example.com ", "http://example.com/", True),
        ("a.invalid\texample.com", "http://example.com/", True),
        (",,example.com,,", "http://example.com/", True),
        ("", "http://example.com/", False),
        (" , ", "http://example.com/", False),
        # ports: only that port (the effective port when the URL names none)
        ("example.com:8080", "http://example.com:8080/", True),
        ("example.com:8080", "http://example.com/", False),
        ("example.com:80", "http://example.com/", True),
        ("example.com:443", "https://www.example.com/", True),
        ("example.com:443", "http://example.com/", False),
        (".example.com:8080", "http://a.example.com:8080/", True),
        # IPv4 addresses and CIDR blocks
        ("127.0.0.1", "http://127.0.0.1:8080/", True),
        ("127.0.0.1", "http://127.0.0.2/", False),
        ("127.0.0.1", "http://localhost/", False),
        ("127.0.0.1:8080", "http://127.0.0.1:8080/", True),
        ("127.0.0.1:8080", "http://127.0.0.1:8081/", False),
        ("10.0.0.0/8", "http://10.20.30.40/", True),
        ("10.0.0.0/8", "http://11.0.0.1/", False),
        ("192.168.1.7/24", "http://192.168.1.200/", True),  # host bits ignored
        ("192.168.1.7/24", "http://192.168.2.1/", False),
        ("10.0.0.0/8:8080", "http://10.0.0.1:8080/", True),
        ("10.0.0.0/8:8080", "http://10.0.0.1/", False),
        ("0.0.0.0/0", "http://[::1]/", False),  # IPv4 blocks never match IPv6
        ("10.0.0.0/8", "http://10.example.com/", False),
        # IPv6 addresses and CIDR blocks, with or without brackets
        ("::1", "http://[::1]:8080/", True),
        ("[::1]", "http://[::1]/", True),
        ("::1", "http://[::2]/", False),
        ("0:0:0:0:0:0:0:1", "http://[::1]/", True),
        ("[::1]:8080", "http://[::1]:8080/", True),
        ("[::1]:8080", "http://[::1]:8081/", False),
        ("fe80::/10", "http://[fe80::1]/", True),
        ("fe80::/10", "http://[fe80::1%25eth0]/", True),
        ("fe80::/10", "http://[2001:db8::1]/", False),
        ("[2001:db8::]/32", "https://[2001:db8:1::1]/", True),
        ("[2001:db8::]/32:443", "https://[2001:db8:1::1]/", True),
        ("[2001:db8::/32]", "https://[2001:db8:1::1]/", True),
        ("2001:DB8::/32", "http://[2001:db8::5]/", True),
        ("::/0", "http://127.0.0.1/", False),  # IPv6 blocks never match IPv4
        ("::1", "http://localhost/", False),
    ],
)
def test_no_proxy_forms(no_proxy: str, url: str, bypass: bool) -> None:
    scheme = url.split(":", 1)[0]
    cfg = config({f"{scheme}_proxy": P, "NO_PROXY": no_proxy})
    assert chosen(cfg, url) == (None if bypass else P)


def test_no_proxy_applies_to_all_proxy_too() -> None:
    cfg = config({"ALL_PROXY": R, "no_proxy": "skip.invalid"})
    assert chosen(cfg, "https://skip.invalid/") is None
    assert chosen(cfg, "https://use.invalid/") == R


def test_for_url_accepts_ipv6_with_or_without_brackets_and_any_case() -> None:
    cfg = config({"http_proxy": P, "no_proxy": "fe80::/10,example.com"})
    assert cfg.for_url("http", "[fe80::1]", 80) is None
    assert cfg.for_url("http", "fe80::1", 80) is None
    assert cfg.for_url("http", "FE80::1", 80) is None
    assert cfg.for_url("HTTP", "WWW.Example.COM", 80) is None
    assert cfg.for_url("http", "[2001:db8::1]", 80) == parse_proxy(P, origin="proxy")


def test_for_url_rejects_other_schemes() -> None:
    with pytest.raises(ValueError, match="scheme must be 'http' or 'https'"):
        config({"all_proxy": P}).for_url("ftp", "h.invalid", 21)


# -- the setter, display, repr -----------------------------------------------------------------


def test_replace_explicit_keeps_the_environment() -> None:
    cfg = config({"HTTPR_PROXY": Q})
    replaced = cfg.replace_explicit(P)
    assert replaced.display == P and chosen(replaced, "http://h.invalid/") == P
    assert cfg.display == Q  # the original is unchanged (requests in flight keep it)
    back = replaced.replace_explicit(None)
    assert back.display == Q and chosen(back, "https://h.invalid/") == Q

    std = config({"https_proxy": Q, "no_proxy": "skip.invalid"}, explicit=P)
    assert chosen(std, "https://skip.invalid/") == P
    fallback = std.replace_explicit(None)
    assert fallback.display is None
    assert chosen(fallback, "https://h.invalid/") == Q
    assert chosen(fallback, "https://skip.invalid/") is None
    with pytest.raises(httpr.InvalidURL, match="^proxy: "):
        std.replace_explicit("http://h.invalid:x")


def test_display_is_the_value_as_given() -> None:
    given = "socks5h://u:pw@LOCALHOST:9050"
    assert config({}, explicit=given).display == given
    assert config({"HTTPR_PROXY": "localhost:1"}).display == "localhost:1"


def test_config_repr_masks_passwords() -> None:
    cfg = config(
        {"http_proxy": "http://u:s3cret1@h.invalid:1", "HTTPS_PROXY": "http://v:s3cret2@h:2",
         "no_proxy": "a.invalid"},
        explicit="socks5://w:s3cret3@127.0.0.1:1080",
    )  # fmt: skip
    text = repr(cfg)
    assert "s3cret" not in text
    assert "proxy='socks5://w:[secure]@127.0.0.1:1080'" in text
    assert "no_proxy='a.invalid'" in text
    env_cfg = config({"HTTPR_PROXY": "http://u:s3cret4@h.invalid"})
    assert "s3cret" not in repr(env_cfg) and "[secure]" in repr(env_cfg)


# -- properties --------------------------------------------------------------------------------

_label = st.from_regex(r"[a-z0-9]([a-z0-9\-_]{0,10}[a-z0-9])?", fullmatch=True)
_names = st.lists(_label, min_size=1, max_size=4).map(".".join)
_v4 = st.ip_addresses(v=4).map(str)
_v6 = st.ip_addresses(v=6).map(str)
_hosts = st.one_of(_names, _v4, _v6, _v6.map(lambda h: f"[{h}]"), _names.map(str.upper))

_NO_PROXY_ALL_FORMS = (
    "example.com, .example.org, *.example.net, localhost:8080, 127.0.0.1, 10.0.0.0/8:8080,"
    " ::1, [fe80::]/10, [2001:db8::1]:443, 2001:db8::/32, bücher.de, host_1"
)


@FAST
@given(
    scheme=st.sampled_from(["http", "https"]),
    host=_hosts,
    port=st.integers(1, 65535),
    explicit=st.sampled_from([None, P]),
)
def test_for_url_never_raises_for_valid_targets(
    scheme: str, host: str, port: int, explicit: str | None
) -> None:
    env = {"http_proxy": P, "HTTPS_PROXY": Q, "no_proxy": _NO_PROXY_ALL_FORMS}
    cfg = config(env, explicit=explicit)
    proxy = cfg.for_url(scheme, host, port)
    if explicit is not None:
        assert proxy is not None and proxy.url == P
    else:
        assert proxy is None or proxy.url == (P if scheme == "http" else Q)
    assert config({"all_proxy": P, "no_proxy": "*"}).for_url(scheme, host, port) is None
    assert config({"all_proxy": P}).for_url(scheme, host, port) is not None


@FAST
@given(host=_hosts, port=st.integers(1, 65535))
def test_ip_entries_agree_with_ipaddress(host: str, port: int) -> None:
    cfg = config({"all_proxy": P, "no_proxy": "10.0.0.0/8, fe80::/10"})
    bare = host.strip("[]")
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        expected = False
    else:
        expected = ip in ipaddress.ip_network("10.0.0.0/8") or ip in ipaddress.ip_network(
            "fe80::/10"
        )
    assert (cfg.for_url("http", host, port) is None) == expected


@FAST
@given(st.text(max_size=80))
def test_parse_proxy_raises_only_its_own_errors(value: str) -> None:
    try:
        proxy = parse_proxy(value, origin="proxy")
    except (httpr.InvalidURL, httpr.UnsupportedProtocol) as exc:
        assert str(exc).startswith("proxy: ")
    else:
        assert proxy.scheme in ("http", "https", "socks4", "socks4a", "socks5", "socks5h")
        assert 1 <= proxy.port <= 65535
        assert proxy.url.isascii() and " " not in proxy.url


@FAST
@given(
    tail=st.text(st.characters(codec="ascii", exclude_characters="@")),
    suffix=st.sampled_from([":x", "/p", " h", ":0", "#f", "\r\n"]),
)
def test_password_never_in_error_messages(tail: str, suffix: str) -> None:
    # Any ASCII password but '@' (which would end the userinfo earlier), raw, unencoded.
    value = f"http://user:S3CRET{tail}@h.invalid{suffix}"
    with pytest.raises(httpr.InvalidURL) as info:
        parse_proxy(value, origin="proxy")
    assert "S3CRET" not in str(info.value)

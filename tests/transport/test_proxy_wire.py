"""The pure half of the proxy support: URL parsing, the CONNECT request and reply, SOCKS5 messages."""

from __future__ import annotations

import base64
import ipaddress
import re
import struct
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitmart_ws import ConfigurationError
from bitmart_ws._proxy import (
    ProxyProtocolError,
    ProxyURL,
    connect_reply_status,
    connect_request,
    parse_proxy_url,
    socks5_auth_request,
    socks5_check_auth_reply,
    socks5_choose_method,
    socks5_connect_request,
    socks5_greeting,
    socks5_reply_remaining,
)

SECRET = "S3cr3t-"  # every generated password starts with it, so "not in the message" means something
hostnames = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){0,3}", fullmatch=True)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
users = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40)
passwords = users.map(lambda s: SECRET + s)
ports = st.integers(1, 65535)


@given(
    scheme=st.sampled_from(["http", "socks5", "socks5h"]),
    host=hostnames | ipv4,
    port=ports,
    user=users,
    pwd=passwords,
)
def test_parse_round_trips_and_never_shows_the_credentials(
    scheme: str, host: str, port: int, user: str, pwd: str
) -> None:
    url = f"{scheme}://{quote(user, safe='')}:{quote(pwd, safe='')}@{host}:{port}"
    proxy = parse_proxy_url(url)
    assert (proxy.host, proxy.port, proxy.username, proxy.password) == (host, port, user, pwd)
    assert proxy.scheme == ("http" if scheme == "http" else "socks5")
    for shown in (repr(proxy), str(proxy), proxy.address):
        assert SECRET not in shown
    assert str(proxy) == f"{proxy.scheme}://{host}:{port}"


def test_ipv6_hosts_and_no_credentials() -> None:
    proxy = parse_proxy_url("socks5://[::1]:1080")
    assert (proxy.host, proxy.port, proxy.username, proxy.password) == ("::1", 1080, None, None)
    assert proxy.address == "[::1]:1080"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://u:S3cr3t-x@proxy:443", "'https' is not supported (use http:// or socks5://)"),
        ("socks4://u:S3cr3t-x@proxy:1080", "'socks4' is not supported"),
        ("proxy:8080", "is not supported"),  # "proxy" taken as the scheme
        ("//u:S3cr3t-x@proxy:8080", "needs a scheme"),
        ("http://u:S3cr3t-x@proxy", "needs a host and a port"),
        ("http://u:S3cr3t-x@:8080", "needs a host and a port"),
        ("http://u:S3cr3t-x@proxy:99999", "malformed"),
        ("http://u:S3cr3t-x@proxy:8080/path", "must not have a path"),
        ("socks5://u@proxy:1080", "SOCKS5 password must be 1 to 255 bytes"),
        ("socks5://" + "u" * 256 + ":S3cr3t-x@proxy:1080", "SOCKS5 user name must be 1 to 255 bytes"),
    ],
)
def test_bad_proxy_urls_are_configuration_errors_without_credentials(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)) as info:
        parse_proxy_url(url)
    assert SECRET not in str(info.value)


@given(host=hostnames | ipv4 | ipv6, port=ports, user=users, pwd=passwords)
def test_connect_request(host: str, port: int, user: str, pwd: str) -> None:
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    request = connect_request(host, port, user, pwd)
    assert request.endswith(b"\r\n\r\n") and request.count(b"\r\n\r\n") == 1
    line, *headers = request[:-4].decode().split("\r\n")
    assert line == f"CONNECT {authority} HTTP/1.1"
    assert headers[0] == f"Host: {authority}"
    name, _, value = headers[1].partition(": ")
    assert name == "Proxy-Authorization" and value.startswith("Basic ")
    assert base64.b64decode(value[6:]).decode() == f"{user}:{pwd}"
    assert b"Proxy-Authorization" not in connect_request(host, port)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"HTTP/1.1 200 Connection established\r\n\r\n", (200, "Connection established")),
        (b"HTTP/1.0 200\r\nVia: x\r\n\r\n", (200, "")),
        (
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
            (407, "Proxy Authentication Required"),
        ),
    ],
)
def test_connect_reply_status(head: bytes, expected: tuple[int, str]) -> None:
    assert connect_reply_status(head) == expected


@pytest.mark.parametrize(
    "head",
    [b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 20 OK\r\n\r\n", b"\x05\x00\r\n\r\n", b"HTTP/2 200\r\n\r\n"],
)
def test_connect_reply_that_is_not_http(head: bytes) -> None:
    with pytest.raises(ProxyProtocolError, match="not an HTTP reply"):
        connect_reply_status(head)


def test_socks5_method_negotiation() -> None:
    assert socks5_greeting(False) == b"\x05\x01\x00"
    assert socks5_greeting(True) == b"\x05\x01\x02"
    assert socks5_choose_method(b"\x05\x00", False) is False
    assert socks5_choose_method(b"\x05\x02", True) is True
    with pytest.raises(ProxyProtocolError, match="requires credentials"):
        socks5_choose_method(b"\x05\xff", False)
    with pytest.raises(ProxyProtocolError, match="not offered"):
        socks5_choose_method(b"\x05\x00", True)
    with pytest.raises(ProxyProtocolError, match="not a SOCKS5 method reply"):
        socks5_choose_method(b"HT", False)


@given(
    user=users.filter(lambda u: len(u.encode()) <= 255),
    pwd=passwords.filter(lambda p: len(p.encode()) <= 255),
)
def test_socks5_auth_request(user: str, pwd: str) -> None:
    message = socks5_auth_request(user, pwd)
    ulen = message[1]
    assert message[0] == 1
    assert message[2 : 2 + ulen].decode() == user
    assert message[3 + ulen :].decode() == pwd and message[2 + ulen] == len(pwd.encode())


def test_socks5_auth_reply() -> None:
    assert socks5_check_auth_reply(b"\x01\x00") is True
    assert socks5_check_auth_reply(b"\x01\x01") is False
    with pytest.raises(ProxyProtocolError):
        socks5_check_auth_reply(b"\x07\x00")


@given(host=hostnames, port=ports)
def test_socks5_connect_names_go_as_domain_for_the_proxy_to_resolve(host: str, port: int) -> None:
    message = socks5_connect_request(host, port)
    assert message[:4] == b"\x05\x01\x00\x03"
    assert message[5 : 5 + message[4]].decode() == host
    assert struct.unpack("!H", message[-2:]) == (port,) and len(message) == 5 + len(host) + 2


@given(ip=st.ip_addresses(), port=ports)
def test_socks5_connect_ip_literals(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> None:
    message = socks5_connect_request(str(ip), port)
    assert message[3] == (1 if ip.version == 4 else 4)
    assert message[4:-2] == ip.packed and struct.unpack("!H", message[-2:]) == (port,)


def test_socks5_connect_refuses_an_overlong_name() -> None:
    with pytest.raises(ConfigurationError, match="cannot be sent"):
        socks5_connect_request("a" * 256, 443)


@pytest.mark.parametrize(
    ("head", "remaining"),
    [(b"\x05\x00\x00\x01\x7f", 5), (b"\x05\x02\x00\x04\x00", 17), (b"\x05\x00\x00\x03\x09", 11)],
)
def test_socks5_reply_framing(head: bytes, remaining: int) -> None:
    assert socks5_reply_remaining(head) == remaining


@pytest.mark.parametrize("head", [b"\x04\x00\x00\x01\x00", b"\x05\x00\x00\x09\x00", b"\x05\x00"])
def test_socks5_reply_that_is_not_socks5(head: bytes) -> None:
    with pytest.raises(ProxyProtocolError):
        socks5_reply_remaining(head)


def test_proxy_url_repr_hides_credentials() -> None:
    proxy = ProxyURL("http", "proxy", 3128, "alice", "S3cr3t-pw")
    assert "alice" not in repr(proxy) and SECRET not in repr(proxy)

"""Which Host and Origin values the server accepts: `host_allowed` and `origin_allowed`."""

from __future__ import annotations

import pytest

from brace.server.gateway.hosts import (
    HostPolicy,
    bare_host,
    host_allowed,
    host_policy,
    origin_allowed,
    split_host,
)

LOCAL = host_policy(["127.0.0.1"])
NAMED = host_policy(["127.0.0.1"], ["MyBox.lan", "[fd00::5]:80"])
EVERYWHERE = host_policy(["0.0.0.0"])
BOUND_TO_NAME = host_policy(["devbox.internal"])


@pytest.mark.parametrize(
    ("policy", "host", "allowed"),
    [
        pytest.param(LOCAL, "127.0.0.1", True, id="loopback"),
        pytest.param(LOCAL, "127.0.0.1:8765", True, id="loopback-port"),
        pytest.param(LOCAL, "127.8.9.10:1", True, id="loopback-net"),
        pytest.param(LOCAL, "[::1]:8765", True, id="ipv6-loopback"),
        pytest.param(LOCAL, "[::1]", True, id="ipv6-loopback-no-port"),
        pytest.param(LOCAL, "[::ffff:127.0.0.1]:80", True, id="ipv4-mapped-loopback"),
        pytest.param(LOCAL, "localhost", True, id="localhost"),
        pytest.param(LOCAL, "LocalHost:8765", True, id="localhost-case"),
        pytest.param(LOCAL, "localhost:", True, id="empty-port"),
        pytest.param(LOCAL, "model-abc123.localhost:8765", True, id="model-host"),
        pytest.param(LOCAL, "evil.example", False, id="rebinding-name"),
        pytest.param(LOCAL, "evil.example:8765", False, id="rebinding-name-port"),
        pytest.param(LOCAL, "127.0.0.1.nip.io:8765", False, id="name-that-resolves-to-loopback"),
        pytest.param(LOCAL, "localhost.evil.example", False, id="localhost-prefix"),
        pytest.param(LOCAL, "model-.localhost", False, id="model-host-without-id"),
        pytest.param(LOCAL, "sub.localhost", False, id="other-localhost-name"),
        pytest.param(LOCAL, "10.0.0.5:8765", False, id="other-address"),
        pytest.param(LOCAL, "[::2]", False, id="other-ipv6"),
        pytest.param(LOCAL, "::1", False, id="ipv6-without-brackets"),
        pytest.param(LOCAL, "localhost:80:80", False, id="two-ports"),
        pytest.param(LOCAL, "localhost:http", False, id="named-port"),
        pytest.param(LOCAL, "", False, id="empty"),
        pytest.param(LOCAL, "[::1", False, id="unclosed-bracket"),
        pytest.param(LOCAL, "[::1]x", False, id="junk-after-bracket"),
        pytest.param(NAMED, "mybox.lan:8765", True, id="allowed-name"),
        pytest.param(NAMED, "[fd00::5]:8765", True, id="allowed-ipv6"),
        pytest.param(NAMED, "otherbox.lan", False, id="not-allowed-name"),
        pytest.param(EVERYWHERE, "192.168.1.5:8765", True, id="wildcard-any-address"),
        pytest.param(EVERYWHERE, "[fe80::1]:8765", True, id="wildcard-any-ipv6"),
        pytest.param(EVERYWHERE, "evil.example:8765", False, id="wildcard-still-no-names"),
        pytest.param(BOUND_TO_NAME, "DevBox.internal:8765", True, id="bound-name"),
        pytest.param(BOUND_TO_NAME, "10.0.0.5", False, id="bound-name-no-addresses"),
    ],
)
def test_host_allowed(policy: HostPolicy, host: str, allowed: bool) -> None:
    assert host_allowed(policy, host) is allowed


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        pytest.param("http://127.0.0.1:8765", "127.0.0.1:8765", True, id="same-origin"),
        pytest.param("HTTP://LOCALHOST:8765", "localhost:8765", True, id="case"),
        pytest.param("https://localhost:8765", "localhost:8765", True, id="https"),
        pytest.param("http://evil.example", "127.0.0.1:8765", False, id="other-site"),
        pytest.param("http://localhost:3000", "localhost:8765", False, id="other-local-port"),
        pytest.param("http://127.0.0.1:8765", "localhost:8765", False, id="other-name"),
        pytest.param("null", "127.0.0.1:8765", False, id="opaque-origin"),
        pytest.param("file://", "127.0.0.1:8765", False, id="file"),
        pytest.param("ftp://127.0.0.1:8765", "127.0.0.1:8765", False, id="scheme"),
        pytest.param("http://127.0.0.1:8765", None, False, id="no-host"),
    ],
)
def test_origin_allowed(origin: str, host: str | None, allowed: bool) -> None:
    assert origin_allowed(origin, host) is allowed


@pytest.mark.parametrize(
    ("value", "parts"),
    [
        pytest.param("Box:80", ("box", "80"), id="name-port"),
        pytest.param("[::1]:80", ("::1", "80"), id="ipv6-port"),
        pytest.param("box", ("box", ""), id="name"),
        pytest.param("box:123456", None, id="port-too-long"),
        pytest.param(":80", None, id="no-host"),
    ],
)
def test_split_host(value: str, parts: tuple[str, str] | None) -> None:
    assert split_host(value) == parts


def test_policy_from_listening_addresses_and_allowed_names() -> None:
    assert bare_host("::1") == "::1"
    assert host_policy(["::"]) == HostPolicy(frozenset({"::"}), any_address=True)
    assert host_policy([""]) == HostPolicy(frozenset(), any_address=True)
    assert host_policy(["127.0.0.1"], [" Box.LAN:80 "]) == HostPolicy(
        frozenset({"127.0.0.1", "box.lan"})
    )

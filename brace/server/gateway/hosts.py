"""Who may call the server from a browser: the Host and Origin rules (pure functions).

A web page can make a browser send requests to 127.0.0.1. Two kinds get through a
server that answers everything:

- DNS rebinding: a page on `evil.example` points its own name at 127.0.0.1; the
  browser then treats the server as same-origin with the page, so the page can call
  models and read the answers. Its requests carry `Host: evil.example[:port]`.
  `host_allowed` accepts only names that cannot be rebound: loopback addresses
  (127.0.0.0/8, [::1]), `localhost`, `model-{id}.localhost` (browsers resolve
  `.localhost` themselves), the host the server was started with (`--host`), and names
  the user allowed (`--allowed-host`). When the server listens on every interface
  (0.0.0.0 or ::), any IP address is accepted too: a page cannot rebind an address.
- Cross-origin "simple" requests: any page may POST `text/plain` or a form to
  `http://127.0.0.1:8765/...` without asking first; it cannot read the answer, but the
  model runs. Browsers mark such requests with an `Origin` header. `origin_allowed`
  accepts an `Origin` only when it names the server itself (scheme http or https, and
  the same host and port as the `Host` header): brace serves no web pages, so no page
  on another origin (another localhost port included) has a reason to call it.

Clients that are not browsers (curl, SDKs, `brace predict`) send no `Origin` and a
loopback `Host`, and are not affected. Both functions take the raw header values; the
gateway caches `host_allowed`'s answer per value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})


@dataclass(frozen=True)
class HostPolicy:
    """What the Host header may name besides loopback addresses and localhost names."""

    names: frozenset[str] = frozenset()
    """The addresses the server listens on (`--host`) and the `--allowed-host` names:
    lower case, without port or brackets."""
    any_address: bool = False
    """The server listens on every interface: accept any IP address."""


def host_policy(listening: Iterable[str], allowed: Iterable[str] = ()) -> HostPolicy:
    """The policy of a server listening on `listening` that also accepts `allowed`."""
    listening = [bare_host(host) for host in listening]
    names = frozenset(listening) | {bare_host(name) for name in allowed}
    return HostPolicy(names - {""}, any(host in WILDCARD_BINDS for host in listening))


def bare_host(name: str) -> str:
    """`name` as `split_host` returns hosts: `[::1]:80` -> `::1`, `Box:80` -> `box`."""
    name = name.strip().lower()
    if name.count(":") > 1 and not name.startswith("["):
        return name  # an IPv6 address as given to --host
    parts = split_host(name)
    return parts[0] if parts is not None else name


def split_host(value: str) -> tuple[str, str] | None:
    """(host, port) of a Host header value, host lower case and IPv6 without brackets;
    port is "" when absent. None when the value is not `host[:port]`."""
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[1:end], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:]
    else:
        host, _, port = value.partition(":")
    if not host or not (port == "" or (port.isdigit() and port.isascii() and len(port) <= 5)):
        return None
    return host.lower(), port


def host_allowed(policy: HostPolicy, value: str) -> bool:
    """True when a request with `Host: value` may be served (see the module docstring)."""
    parts = split_host(value)
    if parts is None:
        return False
    host = parts[0]
    if host == "localhost" or host in policy.names:
        return True
    if host.startswith("model-") and host.endswith(".localhost") and len(host) > 16:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if policy.any_address:
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def origin_allowed(origin: str, host: str | None) -> bool:
    """True when `Origin: origin` names the server that `Host: host` names."""
    scheme, sep, authority = origin.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or host is None:
        return False
    return authority.lower() == host.lower()

"""What one client may make the gateway hold, and for how long: the bounds and defaults.

One table, read by the gateway (`Gateway(limits=...)`), by `brace server`'s options
(`--max-body-size`, `--header-timeout`) and by docs/security.md. Every bound answers
with a JSON error and closes the connection:

- a request line whose URL is longer than `max_url_bytes`: 414;
- a request head (request line and headers, as sent) larger than `max_head_bytes`, or
  with more than `max_header_fields` header fields: 431;
- a request head not complete `header_timeout` seconds after the connection's accept
  (for a later request on it, after its first byte): 408;
- a request body larger than `max_body_bytes`: 413, before any of it is forwarded when
  the request declares its length (`Content-Length`), else (chunked) as soon as the
  body passes the limit.

After such an answer the gateway reads and drops what the client still sends for up to
`linger` seconds, so that a client still sending its body gets to read the answer
(closing a socket with unread data resets the connection, and the answer is lost).
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Limits:
    max_url_bytes: int = 8 * KIB
    """Bytes of the request target (path and query), as nginx's default line buffer."""
    max_head_bytes: int = 64 * KIB
    """Bytes of the request line and headers together."""
    max_header_fields: int = 100
    """Header fields in one request (Apache's default)."""
    max_body_bytes: int = 100 * MIB
    """Bytes of one request body: Baseten's inference endpoints cap bodies at 100 MB."""
    header_timeout: float = 20.0
    """Seconds from the accept (a later request: its first byte) until the head must be
    complete."""
    linger: float = 2.0
    """Seconds to read and drop a refused request's remaining bytes before closing."""


def size_text(size: int) -> str:
    """Bytes as `parse_size` reads them back: `100MiB`, `64KiB`, `1000`."""
    for unit, scale in (("GiB", 1024 * MIB), ("MiB", MIB), ("KiB", KIB)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return str(size)


MAX_SIZE = 1024**4
"""Largest size `parse_size` accepts (1 TiB): a bound on a number read from the user."""


def parse_size(text: str) -> int:
    """`100MiB`, `64KiB`, `1GiB`, `500MB`, `1048576` -> bytes; ValueError if not a size,
    or above `MAX_SIZE`."""
    units = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3}
    units |= {"k": KIB, "kib": KIB, "m": MIB, "mib": MIB, "g": 1024 * MIB, "gib": 1024 * MIB}
    stripped = text.strip().lower()
    number = stripped.rstrip("kmgib")
    unit = stripped[len(number) :]
    if unit not in units or not number.strip().isdigit():
        raise ValueError(f"not a size: {text!r} (use bytes, or a unit: KiB, MiB, GiB, KB, MB, GB)")
    digits = number.strip()
    if len(digits) > 16 or int(digits) * units[unit] > MAX_SIZE:
        raise ValueError(f"{text.strip()[:40]!r} is larger than {size_text(MAX_SIZE)}")
    return int(digits) * units[unit]

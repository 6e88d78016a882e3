"""The gateway's bounds: their documented defaults and how sizes are written."""

from __future__ import annotations

import pytest

from brace.server.gateway.limits import Limits, parse_size, size_text


def test_defaults() -> None:
    assert Limits() == Limits(
        max_url_bytes=8192,
        max_head_bytes=65536,
        max_header_fields=100,
        max_body_bytes=100 * 1024 * 1024,
        header_timeout=20.0,
        linger=2.0,
    )


@pytest.mark.parametrize(
    ("text", "size"),
    [
        pytest.param("1048576", 1 << 20, id="bytes"),
        pytest.param("100MiB", 100 << 20, id="MiB"),
        pytest.param("100 mib", 100 << 20, id="spaced-lower"),
        pytest.param("64k", 64 << 10, id="k"),
        pytest.param("2GiB", 2 << 30, id="GiB"),
        pytest.param("500MB", 500_000_000, id="MB"),
        pytest.param("10b", 10, id="b"),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MiB", "1.5MiB", "-1", "12 parsecs", "1TiB"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


@pytest.mark.parametrize("size", [100 << 20, 64 << 10, 3 << 30, 1000, 1536 << 10])
def test_size_text_reads_back(size: int) -> None:
    assert parse_size(size_text(size)) == size

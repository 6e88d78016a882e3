"""What the store writes on a new row: a short random id and a UTC time stamp."""

from __future__ import annotations

from datetime import UTC, datetime

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """A UTC time as stored: ISO 8601 with microseconds and Z, so strings sort in time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_id() -> str:
    """A short random id like Baseten's (8 lowercase letters and digits)."""
    import secrets  # here: it loads OpenSSL's hashes, which reading the store never needs

    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))

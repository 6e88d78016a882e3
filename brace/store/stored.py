"""Settings read back from the store, checked as if they had just been sent.

Every write checks settings first (`brace.store.settings`), but a state file can
hold what no write would store: one written by an older brace, or edited by hand.
Reading such a value must not stop the server or the CLI (a value such as 10^4000
replicas once crashed the server at every start): the record is read with the
defaults in place of the settings, and `settings_error` says why, so that the server
reports that deployment as failed and serves the others, and a PATCH of the settings
repairs it.
"""

from __future__ import annotations

from functools import lru_cache

from brace import jsontext
from brace.errors import BraceError
from brace.store.records import (
    DEVELOPMENT_AUTOSCALING,
    AutoscalingSettings,
    PromotionSettings,
)
from brace.store.settings import update_autoscaling, update_promotion_settings


def _problem(error: Exception) -> str:
    return error.message if isinstance(error, BraceError) else str(error) or type(error).__name__


SETTINGS_READ_CACHE = 4096
"""Settings texts whose reading is kept (a server reads every deployment's at each
full read of the store, and most are alike): the records are frozen, so one read
serves every row with the same text."""


def read_autoscaling(
    stored: object, *, development: bool = False
) -> tuple[AutoscalingSettings, str | None]:
    """The autoscaling settings stored as JSON text, and None; or the defaults and why
    the stored ones cannot be used."""
    if isinstance(stored, str):
        return _read_autoscaling_text(stored, development)
    return _read_autoscaling(stored, development)


@lru_cache(maxsize=SETTINGS_READ_CACHE)
def _read_autoscaling_text(
    stored: str, development: bool
) -> tuple[AutoscalingSettings, str | None]:
    return _read_autoscaling(stored, development)


def _read_autoscaling(stored: object, development: bool) -> tuple[AutoscalingSettings, str | None]:
    defaults = DEVELOPMENT_AUTOSCALING if development else AutoscalingSettings()
    try:
        data = jsontext.parse(stored)  # type: ignore[arg-type]
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        return update_autoscaling(defaults, data, development=development), None
    except (BraceError, ValueError, TypeError) as error:
        return defaults, f"the stored autoscaling settings cannot be used: {_problem(error)}"


def read_promotion_settings(stored: object) -> tuple[PromotionSettings, str | None]:
    """The promotion settings stored as JSON text, and None; or the defaults and why
    the stored ones cannot be used."""
    if isinstance(stored, str):
        return _read_promotion_settings_text(stored)
    return _read_promotion_settings(stored)


@lru_cache(maxsize=SETTINGS_READ_CACHE)
def _read_promotion_settings_text(stored: str) -> tuple[PromotionSettings, str | None]:
    return _read_promotion_settings(stored)


def _read_promotion_settings(stored: object) -> tuple[PromotionSettings, str | None]:
    try:
        data = jsontext.parse(stored)  # type: ignore[arg-type]
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        return update_promotion_settings(PromotionSettings(), data), None
    except (BraceError, ValueError, TypeError) as error:
        return PromotionSettings(), (
            f"the stored promotion settings cannot be used: {_problem(error)}"
        )
